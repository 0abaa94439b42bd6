#!/usr/bin/env bash
# Syntax-check the ESP-IDF glue in firmware/main/*.c against real ESP-IDF v5.x
# headers, without the Xtensa toolchain (which cannot be downloaded here).
#
# Usage:
#   IDF_PATH=<esp-idf checkout, e.g. tag v5.5.5> \
#   [ESP_MQTT_PATH=<esp-mqtt checkout; default $IDF_PATH/components/mqtt/esp-mqtt>] \
#   [NEWLIB_INCLUDE=<newlib headers; default /usr/include/newlib (Debian libnewlib-dev)>] \
#   [CC=gcc] [SOURCES="file.c ..."] [VARIANTS="EDGE_TRANSPORT_MQTT ..."] \
#   [CHECK_MODE="-O2 -S -o /dev/null"]  (default -fsyntax-only; -S also runs the
#                                        middle end: unused statics, uninitialised vars)
#   [IDF_VER=v5.5.5] [ESP_MQTT_COMMIT=<sha>]  (labels for a checkout without .git)
#   [SKIP_CORE=1]  (default also checks firmware/components/edge_core/src/*.c) \
#   firmware/tools/idf-syntax-check.sh
#
# What it does: writes a minimal sdkconfig.h for target esp32 (plus our own
# Kconfig.projbuild defaults) into a temp dir, then runs
#   $CC -m32 -nostdinc -fsyntax-only ...
# on each source, with newlib's headers as the C library (like the real
# toolchain), gcc's own freestanding headers (stddef/stdarg/stdint helpers), and
# the include directories the IDF components export for target esp32.
# -m32 gives ILP32 (int/long/pointer = 32 bit), as on Xtensa.
#
# Nothing from ESP-IDF is copied into this repository; the checkout is only read.
set -euo pipefail

: "${IDF_PATH:?set IDF_PATH to an ESP-IDF v5.x checkout (components/ must exist)}"
IDF_C="$IDF_PATH/components"
[ -d "$IDF_C/esp_common" ] || { echo "IDF_PATH=$IDF_PATH has no components/esp_common" >&2; exit 2; }
ESP_MQTT_PATH="${ESP_MQTT_PATH:-$IDF_C/mqtt/esp-mqtt}"
[ -f "$ESP_MQTT_PATH/include/mqtt_client.h" ] || { echo "no mqtt_client.h under ESP_MQTT_PATH=$ESP_MQTT_PATH (esp-mqtt is a submodule in v5.x)" >&2; exit 2; }
NEWLIB_INCLUDE="${NEWLIB_INCLUDE:-/usr/include/newlib}"
[ -f "$NEWLIB_INCLUDE/sys/reent.h" ] || { echo "newlib headers not found at NEWLIB_INCLUDE=$NEWLIB_INCLUDE (Debian: apt-get install libnewlib-dev)" >&2; exit 2; }
CC="${CC:-gcc}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fw="$(cd "$here/.." && pwd)"
core_inc="$fw/components/edge_core/include"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# ---------------------------------------------------------------------------
# Minimal sdkconfig.h (target esp32). Values are the Kconfig defaults of v5.5.x
# for the options the included headers and our code read.
# ---------------------------------------------------------------------------
cat > "$tmp/sdkconfig.h" <<'CFG'
#pragma once
/* --- target --- */
#define CONFIG_IDF_TARGET "esp32"
#define CONFIG_IDF_TARGET_ESP32 1
#define CONFIG_IDF_TARGET_ARCH_XTENSA 1
#define CONFIG_IDF_TARGET_ARCH "xtensa"
#define CONFIG_IDF_FIRMWARE_CHIP_ID 0x0000
#define CONFIG_SOC_CPU_CORES_NUM 2
#define CONFIG_XTAL_FREQ 40
#define CONFIG_XTAL_FREQ_40 1
#define CONFIG_MMU_PAGE_SIZE 0x10000
#define CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ 160
#define CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_160 1
#define CONFIG_ESP_CONSOLE_UART_DEFAULT 1
#define CONFIG_ESP_CONSOLE_UART 1
#define CONFIG_ESP_CONSOLE_UART_NUM 0
#define CONFIG_ESP_CONSOLE_UART_BAUDRATE 115200
#define CONFIG_ESP_MAIN_TASK_STACK_SIZE 6144
#define CONFIG_ESP_SYSTEM_EVENT_TASK_STACK_SIZE 2304
#define CONFIG_ESP_SYSTEM_EVENT_QUEUE_SIZE 32
/* --- log --- */
#define CONFIG_LOG_DEFAULT_LEVEL 3
#define CONFIG_LOG_DEFAULT_LEVEL_INFO 1
#define CONFIG_LOG_MAXIMUM_LEVEL 3
#define CONFIG_LOG_MAXIMUM_EQUALS_DEFAULT 1
#define CONFIG_LOG_TIMESTAMP_SOURCE_RTOS 1
#define CONFIG_LOG_VERSION_1 1
#define CONFIG_LOG_VERSION 1
#define CONFIG_LOG_DYNAMIC_LEVEL_CONTROL 1
#define CONFIG_LOG_TAG_LEVEL_IMPL_CACHE_AND_LINKED_LIST 1
#define CONFIG_LOG_TAG_LEVEL_CACHE_BINARY_MIN_HEAP 1
#define CONFIG_LOG_TAG_LEVEL_IMPL_CACHE_SIZE 31
#define CONFIG_LOG_COLORS 0
/* --- errors --- */
#define CONFIG_COMPILER_OPTIMIZATION_ASSERTIONS_ENABLE 1
#define CONFIG_COMPILER_OPTIMIZATION_DEFAULT 1
#define CONFIG_COMPILER_STACK_CHECK_MODE_NONE 1
/* --- FreeRTOS --- */
#define CONFIG_FREERTOS_HZ 100
#define CONFIG_FREERTOS_NUMBER_OF_CORES 2
#define CONFIG_FREERTOS_MAX_TASK_NAME_LEN 16
#define CONFIG_FREERTOS_IDLE_TASK_STACKSIZE 1536
#define CONFIG_FREERTOS_ISR_STACKSIZE 1536
#define CONFIG_FREERTOS_TIMER_TASK_PRIORITY 1
#define CONFIG_FREERTOS_TIMER_TASK_STACK_DEPTH 2048
#define CONFIG_FREERTOS_TIMER_QUEUE_LENGTH 10
#define CONFIG_FREERTOS_TIMER_SERVICE_TASK_CORE_AFFINITY 0x7FFFFFFF
#define CONFIG_FREERTOS_TIMER_SERVICE_TASK_NO_AFFINITY 1
#define CONFIG_FREERTOS_QUEUE_REGISTRY_SIZE 0
#define CONFIG_FREERTOS_TASK_NOTIFICATION_ARRAY_ENTRIES 1
#define CONFIG_FREERTOS_THREAD_LOCAL_STORAGE_POINTERS 1
#define CONFIG_FREERTOS_TICK_SUPPORT_CORETIMER 1
#define CONFIG_FREERTOS_CORETIMER_0 1
#define CONFIG_FREERTOS_SYSTICK_USES_CCOUNT 1
#define CONFIG_FREERTOS_CHECK_STACKOVERFLOW_CANARY 1
#define CONFIG_FREERTOS_INTERRUPT_BACKTRACE 1
#define CONFIG_FREERTOS_TASK_FUNCTION_WRAPPER 1
#define CONFIG_FREERTOS_DEBUG_OCDAWARE 1
#define CONFIG_FREERTOS_ENABLE_TASK_SNAPSHOT 1
#define CONFIG_FREERTOS_PLACE_SNAPSHOT_FUNS_INTO_FLASH 1
#define CONFIG_FREERTOS_NO_AFFINITY 0x7FFFFFFF
#define CONFIG_FREERTOS_SUPPORT_STATIC_ALLOCATION 1
#define CONFIG_FREERTOS_USE_TIMERS 1
#define CONFIG_FREERTOS_TLSP_DELETION_CALLBACKS 1
#define CONFIG_FREERTOS_PORT 1
/* --- Wi-Fi (defaults used by WIFI_INIT_CONFIG_DEFAULT) --- */
#define CONFIG_ESP_WIFI_ENABLED 1
#define CONFIG_ESP_WIFI_STATIC_RX_BUFFER_NUM 10
#define CONFIG_ESP_WIFI_DYNAMIC_RX_BUFFER_NUM 32
#define CONFIG_ESP_WIFI_DYNAMIC_TX_BUFFER 1
#define CONFIG_ESP_WIFI_TX_BUFFER_TYPE 1
#define CONFIG_ESP_WIFI_DYNAMIC_TX_BUFFER_NUM 32
#define CONFIG_ESP_WIFI_STATIC_RX_MGMT_BUFFER 1
#define CONFIG_ESP_WIFI_DYNAMIC_RX_MGMT_BUF 0
#define CONFIG_ESP_WIFI_RX_MGMT_BUF_NUM_DEF 5
#define CONFIG_ESP_WIFI_AMPDU_TX_ENABLED 1
#define CONFIG_ESP_WIFI_TX_BA_WIN 6
#define CONFIG_ESP_WIFI_AMPDU_RX_ENABLED 1
#define CONFIG_ESP_WIFI_RX_BA_WIN 6
#define CONFIG_ESP_WIFI_NVS_ENABLED 1
#define CONFIG_ESP_WIFI_TASK_PINNED_TO_CORE_0 1
#define CONFIG_ESP_WIFI_SOFTAP_BEACON_MAX_LEN 752
#define CONFIG_ESP_WIFI_MGMT_SBUF_NUM 32
#define CONFIG_ESP_WIFI_IRAM_OPT 1
#define CONFIG_ESP_WIFI_RX_IRAM_OPT 1
#define CONFIG_ESP_WIFI_ENABLE_WPA3_SAE 1
#define CONFIG_ESP_WIFI_ENABLE_SAE_PK 1
#define CONFIG_ESP_WIFI_SOFTAP_SAE_SUPPORT 1
#define CONFIG_ESP_WIFI_ENABLE_WPA3_OWE_STA 1
#define CONFIG_ESP_WIFI_SOFTAP_SUPPORT 1
#define CONFIG_ESP_WIFI_ESPNOW_MAX_ENCRYPT_NUM 7
#define CONFIG_ESP_WIFI_MBEDTLS_CRYPTO 1
#define CONFIG_ESP_WIFI_MBEDTLS_TLS_CLIENT 1
#define CONFIG_ESP_WIFI_TX_HETB_QUEUE_NUM 3
#define CONFIG_ESP_COEX_ENABLED 1
#define CONFIG_ESP_PHY_ENABLED 1
#define CONFIG_ESP_PHY_CALIBRATION_AND_DATA_STORAGE 1
#define CONFIG_ESP_PHY_MAX_WIFI_TX_POWER 20
#define CONFIG_ESP_PHY_MAX_TX_POWER 20
/* --- netif / lwIP --- */
#define CONFIG_ESP_NETIF_TCPIP_LWIP 1
#define CONFIG_ESP_NETIF_USES_TCPIP_WITH_BSD_API 1
#define CONFIG_ESP_NETIF_IP_LOST_TIMER_INTERVAL 120
#define CONFIG_LWIP_ENABLE 1
#define CONFIG_LWIP_IPV4 1
#define CONFIG_LWIP_IPV6 1
#define CONFIG_LWIP_SNTP_MAX_SERVERS 1
#define CONFIG_LWIP_DHCP_GET_NTP_SRV 0
#define CONFIG_LWIP_SNTP_UPDATE_DELAY 3600000
#define CONFIG_LWIP_SNTP_STARTUP_DELAY 1
#define CONFIG_LWIP_SNTP_MAXIMUM_STARTUP_DELAY 5000
#define CONFIG_LWIP_LOCAL_HOSTNAME "espressif"
#define CONFIG_LWIP_TCPIP_TASK_AFFINITY 0x7FFFFFFF
#define CONFIG_LWIP_MAX_SOCKETS 10
/* --- esp-mqtt --- */
#define CONFIG_MQTT_PROTOCOL_311 1
#define CONFIG_MQTT_TRANSPORT_SSL 1
#define CONFIG_MQTT_TRANSPORT_WEBSOCKET 1
#define CONFIG_MQTT_TRANSPORT_WEBSOCKET_SECURE 1
#define CONFIG_MQTT_MSG_ID_INCREMENTAL 1
#define CONFIG_MQTT_REPORT_DELETED_MESSAGES 1
#define CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS 30000
#define CONFIG_ESP_TLS_USING_MBEDTLS 1
#define CONFIG_MBEDTLS_TLS_ENABLED 1
/* --- misc --- */
#define CONFIG_LIBC_NEWLIB 1
#define CONFIG_LIBC_STDOUT_LINE_ENDING_CRLF 1
#define CONFIG_LIBC_STDIN_LINE_ENDING_CR 1
#define CONFIG_LIBC_TIME_SYSCALL_USE_RTC_HRT 1
#define CONFIG_ESP_TIMER_TASK_STACK_SIZE 3584
#define CONFIG_ESP_TIMER_INTERRUPT_LEVEL 1
#define CONFIG_ESP_TIMER_IMPL_TG0_LAC 1
#define CONFIG_ESP_TIMER_SUPPORTS_ISR_DISPATCH_METHOD 1
#define CONFIG_UART_ISR_IN_IRAM 0
#define CONFIG_GPIO_CTRL_FUNC_IN_IRAM 0
#define CONFIG_SPI_FLASH_MMAP 1
#define CONFIG_NVS_ENCRYPTION 0
#define CONFIG_ESP_ERR_TO_NAME_LOOKUP 1
#define CONFIG_NEWLIB_STDOUT_LINE_ENDING_CRLF 1
#define CONFIG_NEWLIB_STDIN_LINE_ENDING_CR 1
#define CONFIG_VFS_SUPPORT_IO 1
CFG

# Shim between IDF's newlib/platform_include and Debian's newlib 3.3 headers
# (the Espressif toolchain ships newlib 4.x): 3.3 declares _global_impure_ptr
# as `struct _reent *const`, IDF's platform_include/sys/reent.h without const.
mkdir -p "$tmp/newlib-shim/sys"
cat > "$tmp/newlib-shim/sys/reent.h" <<'SHIM'
#define _global_impure_ptr _global_impure_ptr_newlib33_const
#include_next <sys/reent.h>
#undef _global_impure_ptr
SHIM

# Our own Kconfig.projbuild: every option's default for IDF_TARGET_ESP32 (or
# its unconditional default), wrapped in `#if CONFIG_<dep>` for a simple
# `depends on <symbol>`, so code that reads an option its Kconfig hides fails
# here as it would in a real build. The transport choice is set per variant
# (see VARIANTS below), in sdkconfig-variant.h.
kconfig="$fw/main/Kconfig.projbuild"
kconfig_defines() {
  awk '
    function flush() {
      if (name != "" && have) {
        if (dep != "") print "#if CONFIG_" dep
        print "#define CONFIG_" name " " val
        if (dep != "") print "#endif"
      }
      name=""; have=0; dep=""; type=""
    }
    /^[ \t]*(config|menuconfig)[ \t]+/ { flush(); name=$2; next }
    /^[ \t]*(bool|int|hex|string)([ \t]|$)/ { if (name != "") type=$1; next }
    /^[ \t]*depends[ \t]+on[ \t]+/ { if (name != "") dep=$3; next }
    /^[ \t]*default[ \t]/ {
      if (name == "" || have) next
      line=$0; sub(/^[ \t]*default[ \t]+/, "", line)
      cond=""
      if (match(line, /[ \t]+if[ \t]+/)) { cond=substr(line, RSTART+RLENGTH); line=substr(line, 1, RSTART-1) }
      if (cond != "" && cond != "IDF_TARGET_ESP32") next
      if (type == "bool") { if (line == "y") { val="1"; have=1 } else { name="" } }
      else { val=line; have=1 }
      next
    }
    /^[ \t]*(endmenu|menu|choice|endchoice|comment|if|endif)([ \t]|$)/ { flush() }
    END { flush() }
  ' "$kconfig"
}
choice_symbols() { # the bool symbols of choice EDGE_TRANSPORT, default first
  awk '
    /^[ \t]*choice[ \t]+EDGE_TRANSPORT/ { c=1; next }
    c && /^[ \t]*default[ \t]/ { d=$2; next }
    c && /^[ \t]*config[ \t]/ { syms = syms " " $2; next }
    c && /^[ \t]*endchoice/ { c=0 }
    END { printf "%s", d; n=split(syms, a, " "); for (i=1;i<=n;i++) if (a[i] != d) printf " %s", a[i]; print "" }
  ' "$kconfig"
}
echo '#include "sdkconfig-variant.h"' >> "$tmp/sdkconfig.h"
[ -f "$kconfig" ] && kconfig_defines >> "$tmp/sdkconfig.h"

# ---------------------------------------------------------------------------
# Include directories, as the components export them for target esp32.
# ---------------------------------------------------------------------------
T=esp32
inc=(
  "$tmp"
  "$fw/main"
  "$core_inc"
  "$IDF_C/newlib/platform_include"
  "$IDF_C/freertos/config/include"
  "$IDF_C/freertos/config/include/freertos"
  "$IDF_C/freertos/config/xtensa/include"
  "$IDF_C/freertos/FreeRTOS-Kernel/include"
  "$IDF_C/freertos/FreeRTOS-Kernel/portable/xtensa/include"
  "$IDF_C/freertos/FreeRTOS-Kernel/portable/xtensa/include/freertos"
  "$IDF_C/freertos/esp_additions/include"
  "$IDF_C/esp_hw_support/include"
  "$IDF_C/esp_hw_support/include/soc"
  "$IDF_C/esp_hw_support/include/soc/$T"
  "$IDF_C/esp_hw_support/dma/include"
  "$IDF_C/esp_hw_support/ldo/include"
  "$IDF_C/esp_hw_support/debug_probe/include"
  "$IDF_C/esp_hw_support/mspi_timing_tuning/include"
  "$IDF_C/esp_hw_support/power_supply/include"
  "$IDF_C/heap/include"
  "$IDF_C/log/include"
  "$IDF_C/soc/include"
  "$IDF_C/soc/$T"
  "$IDF_C/soc/$T/include"
  "$IDF_C/soc/$T/register"
  "$IDF_C/hal/platform_port/include"
  "$IDF_C/hal/$T/include"
  "$IDF_C/hal/include"
  "$IDF_C/esp_rom/include"
  "$IDF_C/esp_rom/$T/include"
  "$IDF_C/esp_rom/$T/include/$T"
  "$IDF_C/esp_rom/$T"
  "$IDF_C/esp_common/include"
  "$IDF_C/esp_system/include"
  "$IDF_C/xtensa/$T/include"
  "$IDF_C/xtensa/include"
  "$IDF_C/xtensa/deprecated_include"
  "$IDF_C/esp_timer/include"
  "$IDF_C/esp_event/include"
  "$IDF_C/esp_netif/include"
  "$IDF_C/esp_wifi/include"
  "$IDF_C/esp_wifi/include/local"
  "$IDF_C/esp_wifi/wifi_apps/include"
  "$IDF_C/esp_wifi/wifi_apps/nan_app/include"
  "$IDF_C/esp_phy/include"
  "$IDF_C/esp_phy/$T/include"
  "$IDF_C/nvs_flash/include"
  "$IDF_C/esp_partition/include"
  "$IDF_C/spi_flash/include"
  "$IDF_C/esp_driver_uart/include"
  "$IDF_C/esp_driver_gpio/include"
  "$IDF_C/esp_driver_rmt/include"
  "$IDF_C/bootloader_support/include"
  "$IDF_C/esp_adc/include"
  "$IDF_C/esp_adc/interface"
  "$IDF_C/esp_adc/$T/include"
  "$IDF_C/esp_ringbuf/include"
  "$IDF_C/esp_pm/include"
  "$IDF_C/esp_mm/include"
  "$IDF_C/tcp_transport/include"
  "$IDF_C/esp-tls"
  "$IDF_C/esp-tls/esp-tls-crypto"
  "$IDF_C/esp_security/include"
  "$IDF_C/efuse/include"
  "$IDF_C/efuse/$T/include"
  "$IDF_C/vfs/include"
  "$IDF_C/esp_vfs_console/include"
  "$IDF_C/lwip/include"
  "$IDF_C/lwip/include/apps"
  "$IDF_C/lwip/include/apps/sntp"
  "$IDF_C/lwip/port/include"
  "$IDF_C/lwip/port/freertos/include"
  "$IDF_C/lwip/port/esp32xx/include"
  "$IDF_C/lwip/port/esp32xx/include/arch"
  "$IDF_C/lwip/port/esp32xx/include/sys"
  "$ESP_MQTT_PATH/include"
)
iflags=()
for d in "${inc[@]}"; do [ -d "$d" ] && iflags+=("-I$d"); done

idf_ver="${IDF_VER:-$(git -C "$IDF_PATH" describe --tags 2>/dev/null || echo unknown)}"
gccinc="$("$CC" -m32 -print-file-name=include)"

# Defines the IDF build adds on every component (tools/cmake/build.cmake,
# components/*/project_include.cmake), plus host-compiler workarounds.
defs=(
  -DESP_PLATFORM
  "-DIDF_VER=\"$idf_ver\""
  -D_GNU_SOURCE
  -D_POSIX_READER_WRITER_LOCKS
  -DSOC_MMU_PAGE_SIZE=CONFIG_MMU_PAGE_SIZE
  -DSOC_XTAL_FREQ_MHZ=CONFIG_XTAL_FREQ
  # host compiler is not xtensa-esp32-elf-gcc: pretend the target macros the
  # headers test (they only pick which inline-asm strings are parsed).
  -D__XTENSA__=1 -D__xtensa__=1 -D__XTENSA_EL__=1 -D__XTENSA_WINDOWED_ABI__=1 -U__i386__ -U__i386 -Ui386 -U__x86_64__ -U__linux__ -U__linux -Ulinux -U__unix__ -U__unix -Uunix -U__gnu_linux__
  # The Espressif GCCs (xtensa and riscv32) make int32_t/uint32_t `long`;
  # host -m32 makes them `int`. Match the target so that -Wformat catches
  # "%d" for int32_t as the real build (-Werror=all) would.
  -U__INT32_TYPE__ "-D__INT32_TYPE__=long int"
  -U__UINT32_TYPE__ "-D__UINT32_TYPE__=long unsigned int"
  -U__INT_LEAST32_TYPE__ "-D__INT_LEAST32_TYPE__=long int"
  -U__UINT_LEAST32_TYPE__ "-D__UINT_LEAST32_TYPE__=long unsigned int"
  ${EXTRA_DEFS:-}
)
flags=(
  -m32 -std=gnu17 ${CHECK_MODE:--fsyntax-only} -nostdinc
  -isystem "$gccinc" -isystem "$tmp/newlib-shim" -isystem "$NEWLIB_INCLUDE"
  # warning flags of tools/cmake/build.cmake (__build_set_default_build_specifications)
  -Wall -Werror -Wno-error=unused-function -Wno-error=unused-variable
  -Wno-error=unused-but-set-variable -Wno-error=deprecated-declarations
  -Wextra -Wno-error=extra -Wno-unused-parameter -Wno-sign-compare -Wno-enum-conversion
)

# Default: our glue, then the core sources, which the IDF build compiles
# with the same flags (as component edge_core).
if [ -n "${SOURCES:-}" ]; then
  read -r -a srcs <<< "$SOURCES"
else
  srcs=("$fw"/main/*.c)
fi
core_srcs=()
if [ -z "${SOURCES:-}" ] && [ -z "${SKIP_CORE:-}" ] && compgen -G "$fw/components/edge_core/src/*.c" > /dev/null; then
  core_srcs=("$fw"/components/edge_core/src/*.c)
fi
echo "compiler: $("$CC" --version | head -n1)"
echo "IDF: $idf_ver ($IDF_PATH)"
echo "esp-mqtt: ${ESP_MQTT_COMMIT:-$(git -C "$ESP_MQTT_PATH" rev-parse HEAD 2>/dev/null || echo 'not a git checkout')}"
echo "newlib headers: $NEWLIB_INCLUDE; mode: ${CHECK_MODE:--fsyntax-only}"
fail=0; pass=0
if [ -n "${VARIANTS:-}" ]; then read -r -a variants <<< "$VARIANTS"
elif [ -f "$kconfig" ]; then read -r -a variants <<< "$(choice_symbols)"
else variants=(none); fi
for v in "${variants[@]}"; do
  if [ "$v" = none ]; then : > "$tmp/sdkconfig-variant.h"
  else printf '#define CONFIG_%s 1\n' "$v" > "$tmp/sdkconfig-variant.h"; fi
  this=("${srcs[@]}")
  # the core does not read our Kconfig: check it once, with the first variant
  [ "$v" = "${variants[0]}" ] && this+=("${core_srcs[@]}")
  for s in "${this[@]}"; do
    if "$CC" "${flags[@]}" "${defs[@]}" "${iflags[@]}" "$s" 2> "$tmp/err.txt"; then
      nw=$(grep -c "warning:" "$tmp/err.txt" || true)
      echo "OK    [$v] $(basename "$s") ($nw warnings)"; pass=$((pass+1))
      [ "$nw" -gt 0 ] && cat "$tmp/err.txt"
    else
      echo "FAIL  [$v] $(basename "$s")"; fail=$((fail+1))
      cat "$tmp/err.txt"
    fi
  done
done
[ -n "${KEEP_SDKCONFIG:-}" ] && cp "$tmp/sdkconfig.h" "$KEEP_SDKCONFIG"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
