from .cascade_guidance_head import CascadeGuidanceHead
from .sisr_head import SISRHead
from .sssr_head import SSSRHead

__all__ = ['CascadeGuidanceHead', 'SISRHead', 'SSSRHead']
