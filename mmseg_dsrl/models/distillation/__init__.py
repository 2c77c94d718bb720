from .hr_teacher import HRTeacher

__all__ = ['HRTeacher']
