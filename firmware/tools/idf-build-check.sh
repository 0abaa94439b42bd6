#!/usr/bin/env bash
# Build the firmware with ESP-IDF's own CMake build for esp32c3, without the
# Espressif toolchain (which cannot be downloaded here): configure, compile
# every object of the `main` and `edge_core` components with IDF's flags
# (-Werror=all ...), then try to link the app and report where that stops.
#
# Usage:
#   IDF_PATH=<esp-idf v5.5.x tree (components/, tools/, Kconfig, sdkconfig.rename)> \
#   [ESP_MQTT_PATH=<esp-mqtt checkout; default $IDF_PATH/components/mqtt/esp-mqtt>] \
#   [NEWLIB_INCLUDE=/usr/include/newlib] (Debian libnewlib-dev) \
#   [IDF_VER=v5.5.5] [IDF_COMMIT=<sha>] [ESP_MQTT_COMMIT=<sha>] (labels for a tree without .git) \
#   [BUILD_DIR=<keep the build here; default a temp dir, removed>] \
#   [SKIP_LINK=1] \
#   firmware/tools/idf-build-check.sh
#
# Needs: cmake, ninja-build, gcc-riscv64-unknown-elf, libnewlib-dev,
# python3-kconfiglib (Debian packages).
#
# Exit status: non-zero when configure fails or any object of main/edge_core
# fails to compile. The link is only tried and reported: it is expected to
# stop on what a fetched IDF tree without its binary submodules lacks.
#
# IDF_PATH is only read: shims and stubs go into a symlinked copy in a temp dir.
set -euo pipefail

: "${IDF_PATH:?set IDF_PATH to an ESP-IDF v5.5.x tree}"
IDF_SRC="$(cd "$IDF_PATH" && pwd)"
for f in tools/cmake/project.cmake Kconfig sdkconfig.rename components/esp_common; do
  [ -e "$IDF_SRC/$f" ] || { echo "IDF_PATH=$IDF_PATH has no $f" >&2; exit 2; }
done
ESP_MQTT_PATH="${ESP_MQTT_PATH:-$IDF_SRC/components/mqtt/esp-mqtt}"
[ -f "$ESP_MQTT_PATH/mqtt_client.c" ] || { echo "no mqtt_client.c under ESP_MQTT_PATH=$ESP_MQTT_PATH (esp-mqtt is a submodule in v5.x)" >&2; exit 2; }
NEWLIB_INCLUDE="${NEWLIB_INCLUDE:-/usr/include/newlib}"
[ -f "$NEWLIB_INCLUDE/sys/reent.h" ] || { echo "newlib headers not found at NEWLIB_INCLUDE=$NEWLIB_INCLUDE (Debian: apt-get install libnewlib-dev)" >&2; exit 2; }
XGCC=riscv64-unknown-elf-gcc
for t in cmake ninja "$XGCC"; do
  command -v "$t" > /dev/null || { echo "$t not found (Debian: cmake ninja-build gcc-riscv64-unknown-elf)" >&2; exit 2; }
done
# kconfiglib must load under the interpreter we hand to IDF (a pyenv shim on
# PATH may not see Debian's dist-packages).
PY="${PY:-/usr/bin/python3}"
"$PY" -c 'import kconfiglib' 2> /dev/null || { echo "kconfiglib does not load under $PY (Debian: apt-get install python3-kconfiglib)" >&2; exit 2; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fw="$(cd "$here/.." && pwd)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
build="${BUILD_DIR:-$tmp/build}"
# the wrappers live in a fresh temp dir per run, so a kept cache would not match
if [ -n "$(ls -A "$build" 2> /dev/null)" ]; then echo "BUILD_DIR=$build is not empty" >&2; exit 2; fi
mkdir -p "$build"
build="$(cd "$build" && pwd)"

# ---------------------------------------------------------------------------
# Toolchain: riscv32-esp-elf-* names around Debian's riscv64-unknown-elf-*.
# The compiler is pinned to the ESP32-C3 ISA/ABI. Debian's GCC has no
# rv32imc multilib; rv32im/ilp32 is the nearest libgcc that runs on a C3 (no
# compressed or atomic instructions required). The Espressif toolchain has
# newlib in its sysroot; Debian's riscv GCC has none, so newlib's headers are
# added after GCC's own, where a sysroot's would be.
# ---------------------------------------------------------------------------
bin="$tmp/bin"; mkdir -p "$bin" "$tmp/newlib-shim/sys"
gcclib="$(dirname "$("$XGCC" -march=rv32im -mabi=ilp32 -print-libgcc-file-name)")"
for t in gcc g++ c++ cpp; do
  cat > "$bin/riscv32-esp-elf-$t" <<W
#!/bin/sh
exec riscv64-unknown-elf-$t -march=rv32imc_zicsr_zifencei -mabi=ilp32 -L$gcclib \\
  -idirafter $tmp/newlib-shim -idirafter $NEWLIB_INCLUDE "\$@" -fdiagnostics-color=never
W
done
for t in ar ranlib nm objcopy objdump readelf size strip as ld addr2line c++filt gcc-ar gcc-ranlib gcc-nm; do
  printf '#!/bin/sh\nexec riscv64-unknown-elf-%s "$@"\n' "$t" > "$bin/riscv32-esp-elf-$t"
done
chmod +x "$bin"/*
# Debian ships newlib 3.3, whose sys/reent.h declares _global_impure_ptr as
# `struct _reent *const`; IDF's platform_include targets newlib 4.x, without const.
cat > "$tmp/newlib-shim/sys/reent.h" <<'SHIM'
#define _global_impure_ptr _global_impure_ptr_newlib33_const
#include_next <sys/reent.h>
#undef _global_impure_ptr
SHIM

# ---------------------------------------------------------------------------
# Python for IDF: `python -m kconfgen` (pip package esp-idf-kconfig, not in
# Debian) is answered by a kconfiglib stand-in; everything else IDF runs at
# configure time needs only the standard library.
# ---------------------------------------------------------------------------
cat > "$bin/python" <<W
#!/bin/sh
PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$here/idf-shims\${PYTHONPATH:+:\$PYTHONPATH}" exec $PY "\$@"
W
chmod +x "$bin/python"

# ---------------------------------------------------------------------------
# IDF tree: a symlink copy, so stubs can fill submodules the tree lacks.
# ---------------------------------------------------------------------------
idf="$tmp/idf"
cp -rs "$IDF_SRC/." "$idf"
if [ "$ESP_MQTT_PATH" != "$IDF_SRC/components/mqtt/esp-mqtt" ]; then
  rm -rf "$idf/components/mqtt/esp-mqtt"; cp -rs "$(cd "$ESP_MQTT_PATH" && pwd)" "$idf/components/mqtt/esp-mqtt"
fi
stubs=()
empty() { [ -z "$(ls -A "$1" 2> /dev/null)" ]; }
# mbedtls: IDF's component does add_subdirectory(mbedtls) and links its three
# libraries. Nothing in main or edge_core includes an mbedtls header, so empty
# libraries let the project configure; the link then lacks mbedtls.
if empty "$idf/components/mbedtls/mbedtls"; then
  mkdir -p "$idf/components/mbedtls/mbedtls/include" "$idf/components/mbedtls/mbedtls/library"
  cat > "$idf/components/mbedtls/mbedtls/CMakeLists.txt" <<'CM'
foreach(lib mbedtls mbedcrypto mbedx509 everest p256m)
    add_library(${lib} STATIC "${CMAKE_CURRENT_LIST_DIR}/stub.c")
endforeach()
CM
  echo '/* empty: mbedtls submodule not present */' > "$idf/components/mbedtls/mbedtls/stub.c"
  stubs+=("components/mbedtls/mbedtls (empty libraries)")
fi
# Other submodules whose sources CMake lists: an empty file per listed source
# (and each listed include directory) so that configure passes; those
# objects are empty and the link shows it.
for sub in components/lwip/lwip components/heap/tlsf; do
  if empty "$idf/$sub"; then
    comp="$(dirname "$sub")"; name="$(basename "$sub")"
    grep -o "$name/[A-Za-z0-9_./-]*" "$IDF_SRC/$comp/CMakeLists.txt" | sort -u |
      while read -r f; do
        case "$f" in
          *.c | *.h) mkdir -p "$idf/$comp/$(dirname "$f")"; : > "$idf/$comp/$f" ;;
          *) mkdir -p "$idf/$comp/$f" ;; # include directories
        esac
      done
    stubs+=("$sub (empty source files)")
  fi
done

export IDF_PATH="$idf" IDF_TARGET=esp32c3 IDF_COMPONENT_MANAGER=0 PATH="$bin:$PATH"
unset IDF_TOOLS_PATH

idf_ver="${IDF_VER:-$(git -C "$IDF_SRC" describe --tags 2> /dev/null || echo unknown)}"
idf_commit="${IDF_COMMIT:-$(git -C "$IDF_SRC" rev-parse HEAD 2> /dev/null || echo 'not a git checkout')}"
mqtt_commit="${ESP_MQTT_COMMIT:-$(git -C "$ESP_MQTT_PATH" rev-parse HEAD 2> /dev/null || echo 'not a git checkout')}"
echo "IDF: $idf_ver ($idf_commit) from $IDF_SRC"
echo "esp-mqtt: $mqtt_commit"
echo "compiler: riscv32-esp-elf-gcc -> $("$XGCC" --version | head -n1) -march=rv32imc_zicsr_zifencei -mabi=ilp32"
echo "kconfig: kconfiglib (kconfgen stand-in) under $PY"
for s in "${stubs[@]}"; do echo "stub: $s"; done

# ---------------------------------------------------------------------------
# Configure: the idf.py project in firmware/, sdkconfig generated from
# Kconfig + firmware/sdkconfig.defaults into the build dir. CMake's compiler
# probe compiles without linking: Debian's riscv GCC has no C library to link
# a test program with (the link step below shows that too).
# COMPONENTS=main limits the build to main's dependency closure plus IDF's
# common components (what MINIMAL_BUILD gives), so components the app never
# uses (unity, bt, ...) need no stubs for their absent submodules.
# ---------------------------------------------------------------------------
echo "== configure (IDF_TARGET=esp32c3)"
if ! cmake -G Ninja -S "$fw" -B "$build" \
    -DIDF_TARGET=esp32c3 -DPYTHON="$bin/python" -DPYTHON_DEPS_CHECKED=1 \
    -DCMAKE_TRY_COMPILE_TARGET_TYPE=STATIC_LIBRARY -DCOMPONENTS=main \
    -DSDKCONFIG="$build/sdkconfig" -DSDKCONFIG_DEFAULTS="$fw/sdkconfig.defaults" \
    -DIDF_VER="$idf_ver" > "$build/configure.log" 2>&1; then
  tail -n 40 "$build/configure.log"
  echo "FAIL  configure (log: $build/configure.log)"
  exit 1
fi
grep -E "^-- (Project sdkconfig|Building ESP-IDF components|Components:|App \")" "$build/configure.log" | cut -c1-300 || true
grep -c '^CONFIG_' "$build/sdkconfig" | sed 's/^/sdkconfig: /; s/$/ CONFIG_ lines/'

# ---------------------------------------------------------------------------
# Compile main and edge_core, every object, with IDF's flags.
# ---------------------------------------------------------------------------
status=0
objs_of() { # object files ninja would build for component $1
  ninja -C "$build" -t targets all | sed -n "s|^\(esp-idf/$1/CMakeFiles/[^:]*\.obj\): .*|\1|p" | sort -u
}
for comp in main edge_core; do
  mapfile -t objs < <(objs_of "$comp")
  echo "== compile $comp (${#objs[@]} objects)"
  : > "$build/compile-$comp.log"
  built=0; failed=0
  for o in "${objs[@]}"; do
    # ninja's own command for this object; its order-only deps are every
    # other component's objects, which this tree cannot all build
    cmd="$(ninja -C "$build" -t commands -s "$o")"
    echo "\$ $cmd" >> "$build/compile-$comp.log"
    if (cd "$build" && eval "$cmd") >> "$build/compile-$comp.log" 2>&1 && [ -s "$build/$o" ]; then
      built=$((built + 1))
    else
      failed=$((failed + 1)); echo "FAIL  $o"
    fi
  done
  nw=$(grep -c "warning:" "$build/compile-$comp.log" || true)
  eval "n_$comp=${#objs[@]} built_$comp=$built warn_$comp=$nw"
  if [ "${#objs[@]}" -eq 0 ] || [ "$failed" -gt 0 ]; then status=1; echo "FAIL  $comp: $built/${#objs[@]} objects, $nw warnings"
  else echo "OK    $comp: $built/${#objs[@]} objects, $nw warnings"; fi
  if [ "$nw" -gt 0 ] || [ "$failed" -gt 0 ]; then grep -E "(warning|error):" "$build/compile-$comp.log" | head -n 40; fi
done
# The exact compile line of one object, as evidence of the flags used.
ninja -C "$build" -t commands -s "$(objs_of main | head -n1)" > "$build/compile-command.txt"
echo "compile line (first main object): $build/compile-command.txt"
grep -o -- '-Werror[^ ]*' "$build/compile-command.txt" | sort -u | tr '\n' ' '; echo

# ---------------------------------------------------------------------------
# Link: build the whole app; report the size or where it stops.
# ---------------------------------------------------------------------------
link="not tried (SKIP_LINK)"
if [ -z "${SKIP_LINK:-}" ]; then
  echo "== link (ninja app)"
  app_elf="$(ninja -C "$build" -t targets all | sed -n 's|^\([^/:]*\.elf\): CXX_EXECUTABLE.*|\1|p' | head -n1)"
  if ninja -C "$build" app > "$build/link.log" 2>&1; then
    size="$(stat -c %s "$build/${app_elf%.elf}.bin")"
    part=$((1536 * 1024))
    link="linked: ${app_elf%.elf}.bin $size bytes, $((size * 100 / part)) % of the 1.5 MB app partition"
  else
    grep -E "^ninja: error" "$build/link.log" | sed "s|$idf/||g" || true
    # every input of the link that nothing can build: the prebuilt blobs
    mapfile -t missing < <(ninja -C "$build" -t query "$app_elf" |
      awk '/input:/{f=1;next} /outputs:/{f=0} f{print $NF}' | sort -u |
      while read -r p; do case "$p" in /*) [ -e "$p" ] || echo "${p#"$idf"/}" ;; esac; done)
    echo "prebuilt inputs of $app_elf absent from the tree: ${#missing[@]}"
    printf '  %s\n' "${missing[@]}"
    # Without them ninja never reaches the link. Build every component
    # library anyway, to show what else stands between this tree and an image.
    mapfile -t libs < <(ninja -C "$build" -t targets all | sed -n 's|^\(esp-idf/[^:]*/lib[^/:]*\.a\): .*|\1|p' | sort -u)
    ninja -C "$build" -k 0 "${libs[@]}" > "$build/libs.log" 2>&1 || true
    nobj=$(ninja -C "$build" -t targets all | grep -c '^esp-idf/.*\.obj: ' || true)
    nbuilt=$(find "$build/esp-idf" -name '*.obj' -size +0 | wc -l)
    nfail=$(grep -c '^FAILED: ' "$build/libs.log" || true)
    echo "objects of all components: $nbuilt/$nobj compiled, $nfail failed, the rest blocked behind failures ($build/libs.log)"
    echo "failed compile steps by component:"
    grep '^FAILED: ' "$build/libs.log" | sed -n 's|^FAILED: esp-idf/\([^/]*\)/.*|\1|p' | sort | uniq -c | sort -rn || true
    echo "most frequent errors:"
    grep -E "(error|fatal error):" "$build/libs.log" | sed -E "s|^.*(fatal error\|error): |\1: |" | sort | uniq -c | sort -rn | head -n 15 || true
    link="did not link: ninja stops before the link step, ${#missing[@]} prebuilt libraries absent; $nbuilt/$nobj objects of all components compiled, $nfail failed"
  fi
fi

echo "== summary"
echo "main: ${built_main:-0}/${n_main:-0} objects compiled, ${warn_main:-0} warnings"
echo "edge_core: ${built_edge_core:-0}/${n_edge_core:-0} objects compiled, ${warn_edge_core:-0} warnings"
echo "link: $link"
exit "$status"
