#!/usr/bin/env python3
"""Builds subq_tests with every CUDA kernel run on the CPU by the emulation in include/, from the
compile commands of a CUDA build directory (built first):

    tests/cuda_emulation/build.py <cuda build dir> <output dir> [jobs]

then run <output dir>/subq_tests "[cuda]", or <output dir>/subq with --device cuda. The .cu files are compiled as C++ after their launches
(kernel<<<grid, block>>>(args)) are rewritten into calls of subq_emulation::launch_kernel; the two
kernels built on CUB block primitives and warp shuffles (the linear recurrence and the selective
scan) are replaced by the stand-ins here. They and the few C++ files that include CUDA headers are
built with AddressSanitizer and UBSan; every other object is the CUDA build's own, linked as is."""
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FLAGS = ["-O1", "-g1", "-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
TARGETS = ["bin/subq_tests", "bin/subq"]  # the tests, and the CLI (subq check, ppl, bench on --device cuda)
STAND_INS = {"scan/linear_recurrence.cu": "linear_recurrence_emulated.cpp",
             "ssm/selective_scan.cu": "selective_scan_emulated.cpp"}


def matching(text, start, opening, closing, step):
    """Index of the bracket closing the one at text[start], scanning in direction step."""
    depth, i = 0, start
    while True:
        depth += (text[i] == opening) - (text[i] == closing)
        if depth == 0:
            return i
        i += step


def split_top_level(text):
    parts, depth, last = [], 0, 0
    for i, c in enumerate(text):
        depth += c in "([{"
        depth -= c in ")]}"
        if c == "," and depth == 0:
            parts.append(text[last:i].strip())
            last = i + 1
    parts.append(text[last:].strip())
    return parts


def rewrite_launches(text):
    out, i = [], 0
    while (j := text.find("<<<", i)) >= 0:
        k = j
        while text[k - 1].isspace():
            k -= 1
        if text[k - 1] == ">":  # explicit template arguments
            k = matching(text, k - 1, ">", "<", -1)
        while text[k - 1].isalnum() or text[k - 1] in "_:":
            k -= 1
        name = " ".join(text[k:j].split())
        g = text.find(">>>", j)
        config = split_top_level(text[j + 3:g])
        p = g + 3
        while text[p].isspace():
            p += 1
        q = matching(text, p, "(", ")", 1)
        args = text[p + 1:q].strip()
        shared = config[2] if len(config) > 2 else "0"
        out.append(text[i:k])
        out.append(f"subq_emulation::launch_kernel(dim3({config[0]}), dim3({config[1]}), {shared}, {name}"
                   + (f", {args}" if args else "") + ")")
        i = q + 1
    out.append(text[i:])
    return "".join(out)


def write_if_changed(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)


def rewrite_headers(out_dir):
    """Every .cuh header of the repository, launches rewritten, under <out_dir>/overlay."""
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if not d.startswith((".", "build"))]
        for name in files:
            if name.endswith(".cuh"):
                source = os.path.join(root, name)
                write_if_changed(os.path.join(out_dir, "overlay", os.path.relpath(source, REPO)),
                                 rewrite_launches(open(source).read()))


def compile_commands(build, target):
    lines = subprocess.run(["ninja", "-C", build, "-t", "commands", target], check=True,
                           capture_output=True, text=True).stdout.splitlines()
    for line in lines:
        words = shlex.split(line)
        if "-c" in words and "-o" in words:
            yield words


def needs_emulation(build, words):
    """Whether a source is compiled here: the .cu files, and the C++ files that include a CUDA
    header (the runtime's, cuBLAS's, cuFFT's). The CUDA build's own objects serve for the rest."""
    if words[words.index("-c") + 1].endswith(".cu"):
        return True
    deps = subprocess.run(["ninja", "-C", build, "-t", "deps", words[words.index("-o") + 1]], check=True,
                          capture_output=True, text=True).stdout.splitlines()[1:]
    return any("cuda" in d and not d.strip().startswith(REPO) for d in deps)


def emulated_command(words, out_dir):
    source = words[words.index("-c") + 1]
    rel = os.path.relpath(source, REPO)
    obj = os.path.join(out_dir, "obj", rel + ".o")
    os.makedirs(os.path.dirname(obj), exist_ok=True)
    keep = [w for w in words if w.startswith("-D") or (w.startswith("-I") and "cuda" not in w)]
    keep.insert(0, "-I" + os.path.join(out_dir, "overlay"))  # the rewritten .cuh headers first
    includes = ["-iquote", os.path.dirname(source), "-isystem", os.path.join(HERE, "include"),
                "-isystem", "/usr/include/eigen3"]
    if source.endswith(".cu"):
        if rel in STAND_INS:
            source = os.path.join(HERE, STAND_INS[rel])
        else:
            text = rewrite_launches(open(source).read())
            source = os.path.join(out_dir, "src", rel + ".cpp")
            write_if_changed(source, text)
            includes += ["-include", "subq_cuda_emulation.hpp"]
    return ["c++", "-std=c++20", *FLAGS, *keep, *includes, "-MMD", "-c", source, "-o", obj], obj


def main():
    build, out_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    jobs = int(sys.argv[3]) if len(sys.argv) > 3 else os.cpu_count()
    built = subprocess.run(["ninja", "-C", build, *TARGETS], capture_output=True, text=True)
    if built.returncode != 0:
        sys.exit(f"the CUDA build in {build} failed:\n{built.stdout}{built.stderr}")
    rewrite_headers(out_dir)
    emulated, links = {}, {}  # emulated objects by the CUDA build's object; each target's objects
    for target in TARGETS:
        links[target] = []
        for words in compile_commands(build, target):
            build_obj = os.path.join(build, words[words.index("-o") + 1])
            if build_obj not in emulated and needs_emulation(build, words):
                emulated[build_obj] = emulated_command(words, out_dir)
            links[target].append(emulated[build_obj][1] if build_obj in emulated else build_obj)
    runtime = os.path.join(out_dir, "obj", "emulation_runtime.o")
    # The stand-ins for cuBLAS and cuFFT are loops that the tests run often: optimised harder.
    commands = list(emulated.values())
    commands.append((["c++", "-std=c++20", *FLAGS, "-O2", "-isystem", os.path.join(HERE, "include"), "-c",
                      os.path.join(HERE, "runtime.cpp"), "-MMD", "-o", runtime], runtime))

    def up_to_date(obj):
        depfile = obj[:-2] + ".d"
        if not os.path.exists(obj) or not os.path.exists(depfile):
            return False
        deps = open(depfile).read().replace("\\\n", " ").split(":", 1)[1].split()
        return all(os.path.exists(d) and os.path.getmtime(d) < os.path.getmtime(obj) for d in deps)

    def run(command):
        argv, obj = command
        if up_to_date(obj):
            return None
        r = subprocess.run(argv, capture_output=True, text=True)
        return None if r.returncode == 0 else f"{' '.join(argv)}\n{r.stderr}"

    with ThreadPoolExecutor(jobs) as pool:
        errors = [e for e in pool.map(run, commands) if e]
    if errors:
        sys.exit("\n".join(errors))
    libs = ["-lfmt", "-lfftw3f", "-lfftw3", "-lpthread", *mpi_libraries(build)]
    for target, objects in links.items():
        subprocess.run(["c++", *FLAGS, *objects, runtime, "-o", os.path.join(out_dir, os.path.basename(target)), *libs],
                       check=True)


def mpi_libraries(build_dir):
    """The MPI library the build's dist/ links (SUBQ_WITH_MPI), from its CMake cache; none without."""
    with open(os.path.join(build_dir, "generated", "subq", "version.hpp")) as f:
        if "#define SUBQ_WITH_MPI 1" not in f.read():
            return []
    with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith("MPI_mpi_LIBRARY:FILEPATH="):
                return [line.split("=", 1)[1].strip()]
    sys.exit(f"{build_dir} is built with MPI, but its CMakeCache.txt names no MPI_mpi_LIBRARY")


if __name__ == "__main__":
    main()
