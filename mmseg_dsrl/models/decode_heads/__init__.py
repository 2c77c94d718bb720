from .cascade_guidance_head import CascadeGuidanceHead
from .espnetv2_head import ESPNetV2Head
from .sisr_head import SISRHead
from .sssr_head import SSSRHead

__all__ = ['CascadeGuidanceHead', 'ESPNetV2Head', 'SISRHead', 'SSSRHead']
