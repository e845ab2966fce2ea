"""Peak memory of a child process, for tests and benches that run work in one."""

#: Source of `peak_bytes()`, to put at the top of a child's `python -c` script. It reads
#: VmHWM, this process's own high-water mark: ru_maxrss would keep the parent's across
#: fork and exec, so a child of a big process would look big.
PEAK_FUNCTION = """
def peak_bytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) * 1024
    return 0
"""
