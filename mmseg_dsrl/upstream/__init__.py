"""Fixes for bugs of the pinned upstream stack, in one place.

Each fix is a small function in this package, registered in :data:`FIXES`
with the upstream package and the versions that have the bug. On
``import mmseg_dsrl`` (so also through ``custom_imports``) every fix whose
upstream version matches is applied, once; outside those versions a fix does
nothing and says so at debug level. ``python -m mmseg_dsrl.upstream`` lists
them, with whether each is active in this environment.
"""
import logging
from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple

from .checkpoint_safety import (UnreadableCheckpointError,
                                apply_checkpoint_safety,
                                runner_checkpoint_globals_allowed)
from .fixes import (allow_cpu_distributed_training,
                    fix_weighted_cross_entropy_with_ignore,
                    leave_process_group, let_get_flops_pass_inputs)

__all__ = [
    'FIXES', 'UpstreamFix', 'UnreadableCheckpointError',
    'allow_cpu_distributed_training', 'apply_checkpoint_safety',
    'apply_upstream_fixes', 'leave_process_group', 'list_fixes',
    'runner_checkpoint_globals_allowed'
]


@dataclass(frozen=True)
class UpstreamFix:
    """One work-around: what it fixes, where, and for which versions.

    Args:
        name (str): Short name (the listing's key).
        package (str): The upstream distribution with the bug.
        versions (tuple[str, str]): ``(first, last)`` affected versions,
            both included (the releases checked; a newer release is
            checked again before the range is widened).
        bug (str): The upstream behaviour, in one line.
        apply (callable): Installs the fix (idempotent).
    """
    name: str
    package: str
    versions: Tuple[str, str]
    bug: str
    apply: Callable[[], None]

    def installed_version(self) -> str:
        from importlib.metadata import PackageNotFoundError, version
        try:
            return version(self.package)
        except PackageNotFoundError:
            return 'not installed'

    def applies(self) -> bool:
        """Whether the installed upstream version is in ``versions``."""
        from mmengine.utils import digit_version
        installed = self.installed_version()
        if installed == 'not installed':
            return False
        first, last = self.versions
        return digit_version(first) <= digit_version(
            installed) <= digit_version(last)


#: Every fix, in the order they are applied. ``versions`` are the releases
#: with the bug as far as checked: each range ends at the newest release
#: checked (the pinned one).
FIXES: List[UpstreamFix] = [
    UpstreamFix(
        'runner-checkpoints', 'mmengine', ('0.0.0', '0.10.7'),
        "loads runner checkpoints with torch's weights_only default (torch "
        '>= 2.6), which refuses their HistoryBuffer and numpy globals; '
        'writes them in place', apply_checkpoint_safety),
    UpstreamFix(
        'cpu-distributed', 'mmengine', ('0.0.0', '0.10.7'),
        'the pytorch launcher and DDP wrapper call CUDA before anything '
        'else, so torchrun --launcher pytorch cannot train without a GPU',
        allow_cpu_distributed_training),
    UpstreamFix(
        'weighted-cross-entropy', 'mmsegmentation', ('0.0.0', '1.2.2'),
        'CrossEntropyLoss(class_weight=...) raises IndexError on ignored '
        'pixels, and under fp16 its normaliser overflows (loss 0 or NaN)',
        fix_weighted_cross_entropy_with_ignore),
    UpstreamFix(
        'get-flops-inputs', 'mmengine', ('0.7.3', '0.10.7'),
        "refuses input_shape and inputs together, which mmseg's packaged "
        'tools/analysis_tools/get_flops.py passes', let_get_flops_pass_inputs),
]

_APPLIED: Dict[str, bool] = {}
_LOGGER = logging.getLogger(__name__)


def apply_upstream_fixes(fixes: List[UpstreamFix] = None) -> Dict[str, bool]:
    """Apply every fix whose upstream version has the bug (once each).

    Args:
        fixes (list[UpstreamFix], optional): Default :data:`FIXES`.

    Returns:
        dict: fix name -> whether it is applied.
    """
    for fix in FIXES if fixes is None else fixes:
        if fix.name in _APPLIED:
            continue
        if fix.applies():
            fix.apply()
            _APPLIED[fix.name] = True
        else:
            _APPLIED[fix.name] = False
            _LOGGER.debug(
                'upstream fix %s not applied: %s %s is outside %s-%s',
                fix.name, fix.package, fix.installed_version(),
                *fix.versions)
    return dict(_APPLIED)


def list_fixes() -> List[dict]:
    """One row per fix of :data:`FIXES`: name, package, affected versions,
    installed version, whether it is active in this process, the bug."""
    return [
        dict(
            name=f.name,
            package=f.package,
            versions='-'.join(f.versions),
            installed=f.installed_version(),
            active=_APPLIED.get(f.name, False),
            bug=f.bug) for f in FIXES
    ]
