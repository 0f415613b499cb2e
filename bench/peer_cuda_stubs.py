#!/usr/bin/python3
"""Makes PyPI's CUDA build of torch import on a machine without the CUDA
libraries, for bench/peer_venv.sh (the CPU peer of the benchmarks).

PyPI's Linux x86_64 torch wheel is the CUDA build: libtorch_cpu.so itself
DT_NEEDs libcudart and libcupti, and torch._C pulls in libtorch_cuda.so
(cuBLAS, cuDNN, cuFFT, cuSPARSE(Lt), cuFile, NCCL, NVRTC, NVSHMEM). Those
come from the nvidia-* / cuda-toolkit wheels (about 2.5 GB); installed with
--no-deps, `import torch` fails with "libcufile.so.0: cannot open shared
object file". The CPU kernels are all in libtorch_cpu.so (with MKL and
oneDNN linked in), none of which calls CUDA on CPU tensors; the libraries
are only needed so that the dynamic loader can resolve the names.

So, for every CUDA/NVIDIA library (soname lib{cu,nv,nccl}*) that a shared
object of the wheel needs and the wheel does not ship, this writes a tiny
stub with that soname into torch/lib/ (on every torch library's RPATH, which
the loader searches before the system's directories: the peer is the same
CPU-only torch whether or not the machine has a CUDA toolkit). A stub
defines the version nodes the wheel requires (libcudart.so.13, ...) and
every symbol the wheel references that no other library defines. Every
stub function returns 100 (cudaErrorNoDevice: torch.cuda.is_available()
is False, device count 0), except the *ErrorString/*ErrorName ones, which
return a message. Calling CUDA through the stubs is unsupported: the venv is
for CPU tensors only. torch/lib/SGEN_CUDA_STUBS lists the stubs.

    python3 bench/peer_cuda_stubs.py SITE_PACKAGES/torch [--cc cc]
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

STUB_RE = re.compile(r"^lib(cu|nv|nccl)")
MESSAGE_RE = re.compile(r"(ErrorString|ErrorName|GetStatusString|GetErrorMessage)$")
MARKER = "SGEN_CUDA_STUBS"


def out(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def elf_objects(torch_dir):
    objs = []
    for p in sorted(glob.glob(os.path.join(torch_dir, "**", "*.so*"), recursive=True)):
        if os.path.isfile(p) and not os.path.islink(p):
            with open(p, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    objs.append(p)
    return objs


def needed(obj):
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out("readelf", "-d", "-W", obj))


def verneed(obj):
    """version name -> file (soname) required by obj."""
    ver, current = {}, None
    for line in out("readelf", "-V", "-W", obj).splitlines():
        m = re.search(r"Version: \d+\s+File: (\S+)", line)
        if m:
            current = m.group(1)
            continue
        m = re.search(r"Name: (\S+)\s+Flags", line)
        if m and current:
            ver[m.group(1)] = current
    return ver


def dyn_symbols(obj, which):
    """(type, name, version or None) of the dynamic symbols; which: --undefined-only / --defined-only."""
    syms = []
    for line in out("nm", "-D", which, obj).splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        t, name = parts[-2], parts[-1]
        ver = None
        if "@" in name:
            name, ver = name.split("@", 1)
            ver = ver.lstrip("@")
        syms.append((t, name, ver))
    return syms


def resolved_libs(obj):
    """paths of the libraries ldd resolves for obj (its whole closure)."""
    libs = {}
    for line in out("ldd", obj).splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m:
            libs[m.group(1)] = m.group(2)
    return libs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("torch_dir")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    args = ap.parse_args()
    torch_dir = os.path.abspath(args.torch_dir)
    lib_dir = os.path.join(torch_dir, "lib")
    marker = os.path.join(lib_dir, MARKER)
    old = []
    if os.path.exists(marker):
        old = open(marker).read().split()
    for name in old:  # a rerun starts from the wheel's own files
        p = os.path.join(lib_dir, name)
        if os.path.exists(p):
            os.remove(p)

    objs = elf_objects(torch_dir)
    shipped = {os.path.basename(p) for p in objs}
    stubs = sorted({n for o in objs for n in needed(o) if STUB_RE.match(n) and n not in shipped})
    if not stubs:
        print("peer_cuda_stubs: the wheel needs no CUDA library: nothing to do")
        return 0

    # versioned references: soname -> {version -> {symbols}}
    versioned = {s: {} for s in stubs}
    unversioned = set()
    defined = set()
    system = {}
    for o in objs:
        vmap = verneed(o)
        for t, name, ver in dyn_symbols(o, "--undefined-only"):
            if ver is None:
                if t == "U":
                    unversioned.add(name)
            elif vmap.get(ver) in versioned:
                versioned[vmap[ver]].setdefault(ver, set()).add(name)
        defined.update(name for _, name, _ in dyn_symbols(o, "--defined-only"))
        for soname, path in resolved_libs(o).items():
            if soname not in stubs and soname not in shipped:
                system[soname] = path
    for path in list(system.values()) + [os.path.realpath(sys.executable)]:
        try:
            defined.update(name for _, name, _ in dyn_symbols(path, "--defined-only"))
        except subprocess.CalledProcessError:
            pass
    # the python that will import torch defines the Py* API
    for soname, path in resolved_libs(os.path.realpath(sys.executable)).items():
        defined.update(name for _, name, _ in dyn_symbols(path, "--defined-only"))
    orphans = sorted(unversioned - defined)

    with tempfile.TemporaryDirectory() as tmp:
        for s in stubs:
            names = sorted(set(orphans).union(*versioned[s].values()))
            src = [f"/* stub {s} written by sgen's bench/peer_cuda_stubs.py: no CUDA here */"]
            for n in names:
                if MESSAGE_RE.search(n):
                    src.append(f'const char *{n}(void) {{ return "CUDA is not installed (sgen bench stub)"; }}')
                else:
                    src.append(f"int {n}(void) {{ return 100; }}")
            for v in versioned[s]:  # a node that must exist even when no symbol of it is used
                src.append(f"int __sgen_stub_{re.sub(r'[^A-Za-z0-9]', '_', v)}(void) {{ return 100; }}")
            c = os.path.join(tmp, s + ".c")
            with open(c, "w") as f:
                f.write("\n".join(src) + "\n")
            cmd = [args.cc, "-shared", "-fPIC", "-O0", "-w", "-fno-builtin", "-o", os.path.join(lib_dir, s),
                   c, f"-Wl,-soname,{s}"]
            if versioned[s]:
                vs = os.path.join(tmp, s + ".map")
                with open(vs, "w") as f:
                    for v, syms in sorted(versioned[s].items()):
                        node = sorted(syms) + [f"__sgen_stub_{re.sub(r'[^A-Za-z0-9]', '_', v)}"]
                        f.write(f"{v} {{ global: {'; '.join(node)}; }};\n")
                cmd.append(f"-Wl,--version-script={vs}")
            subprocess.run(cmd, check=True)
    with open(marker, "w") as f:
        f.write("\n".join(stubs) + "\n")
    print(f"peer_cuda_stubs: {len(stubs)} stubs in {lib_dir} ({len(orphans)} unversioned symbols): {' '.join(stubs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
