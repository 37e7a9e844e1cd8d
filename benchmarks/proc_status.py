"""Memory of the running process, from Linux's ``/proc/self``."""


def status_kib(field):
    """A ``/proc/self/status`` field in KiB (``VmRSS``, ``VmHWM``, ``RssAnon``, ``RssFile``)."""
    with open("/proc/self/status") as lines:
        for line in lines:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(f"{field} not in /proc/self/status")


def reset_peak_resident():
    """Reset ``VmHWM`` (peak resident size) to the current resident size."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
