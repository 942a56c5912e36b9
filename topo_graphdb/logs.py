"""What a process that runs the tool (the CLI, the demo) shows of third-party warnings."""

from __future__ import annotations

import logging
import warnings

__all__ = ["quiet_library_warnings"]


def quiet_library_warnings() -> None:
    """Keep scheduled-job logs readable: third-party deprecation notices only with -v.

    Unless the root logger shows INFO (``-v``), the process ignores torch's
    FutureWarnings (``torch.jit.script`` is deprecated, used inside PyG) and the
    note that sparse CSR tensors are in beta.
    """
    if not logging.getLogger().isEnabledFor(logging.INFO):
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch(\..*)?$")
        warnings.filterwarnings("ignore", message=r"Sparse CSR tensor support is in beta", category=UserWarning)
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
