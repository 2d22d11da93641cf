"""Kernels the workbench starts itself (papermill runs of notebooks and apps).

They talk to us over CurveZMQ-encrypted sockets when the kernel says it can (ipykernel 7
does): plain TCP is readable by anyone on the machine who can sniff the loopback, and
ipykernel says so in a warning on every start. A kernel that cannot encrypt still starts,
as before. ``workbench lab`` and ``workbench dashboard`` ask their servers for the same
(``--KernelManager.transport_encryption=auto``).

Once papermill's run is over, the kernel is stopped by a shutdown request alone:
jupyter_client first sends SIGINT "in case it is busy", and a kernel still finishing its
last message logs ``ERROR | KeyboardInterrupt caught in kernel.`` on our output (one run in
a few). Nothing runs by then; a kernel that does not stop is killed after
``shutdown_wait_time`` as before, and an interrupt asked for while a cell runs (papermill's
timeout) still goes through.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ENCRYPTION_ARGUMENT", "papermill_kernel_options"]

#: The command-line option that asks a Jupyter server for encrypted kernel transport.
ENCRYPTION_ARGUMENT = "--KernelManager.transport_encryption=auto"


def papermill_kernel_options() -> dict[str, Any]:
    """Keyword arguments for ``papermill.execute_notebook``: our kernel manager."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class WorkbenchKernelManager(AsyncKernelManager):
        if AsyncKernelManager.class_traits().get("transport_encryption"):  # 8.10 and later

            @default("transport_encryption")
            def _encrypt_when_the_kernel_can(self) -> str:
                return "auto"

        async def _async_interrupt_kernel(self) -> None:
            # Called by name only from shutdown_kernel; interrupt_kernel is bound to the
            # base class's function and is not affected.
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    return {"kernel_manager_class": WorkbenchKernelManager}
