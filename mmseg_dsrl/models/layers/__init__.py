from .sssr_upsample import SSSRUpsample

__all__ = ['SSSRUpsample']
