# Sourced by scripts/fuzz.sh and scripts/sanitize.sh: configures a clang build of the library
# under sanitizers, CUDA off. address: ASan + UBSan in build-fuzz, the fuzz targets' and the unit
# tests' build (one set of objects serves both); thread: TSan in build-tsan. -O1 -g1 because
# these builds check, not time: at -O2 -g the ASan build of the library took four times as long.
configure_sanitized() {
  local mode=$1 dir
  case $mode in
    address) dir=build-fuzz; extra=(-DSUBQ_FUZZ=ON -DSUBQ_BUILD_TESTS=ON) ;;
    thread) dir=build-tsan; extra=(-DSUBQ_SANITIZE=thread -DSUBQ_BUILD_TESTS=OFF) ;;
    *) echo "configure_sanitized: expected address or thread, found '$mode'" >&2; return 2 ;;
  esac
  CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g1" \
    -DSUBQ_CUDA=OFF -DSUBQ_BUILD_BENCH=OFF -DSUBQ_BUILD_TOOLS=OFF "${extra[@]}" >/dev/null
}
