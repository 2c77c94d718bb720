from .sisr_head import SISRHead
from .sssr_head import SSSRHead

__all__ = ['SISRHead', 'SSSRHead']
