"""Type aliases shared across the plugin (re-exported from mmseg)."""
from mmseg.utils import (
    ConfigType,
    OptConfigType,
    OptMultiConfig,
    OptSampleList,
    SampleList,
)

__all__ = [
    'ConfigType', 'OptConfigType', 'OptMultiConfig', 'OptSampleList',
    'SampleList'
]
