/* edge_hal_t for ESP-IDF v5: esp_timer clock, SNTP wall clock, NVS key/value,
 * esp-mqtt or UART transport, DHT22 + potentiometer sensors. */
#include "hal_esp32.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/time.h>

#include "dht22.h"
#include "driver/gpio.h"
#include "esp_adc/adc_oneshot.h"
#include "esp_attr.h"
#include "esp_check.h"
#include "esp_log.h"
#include "esp_random.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "nvs.h"
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "freertos/task.h"
#include "soc/soc_caps.h"

#if CONFIG_EDGE_TRANSPORT_MQTT
#include "esp_wifi.h"
#endif
#if CONFIG_EDGE_TRANSPORT_UART
#include "driver/uart.h"
#endif

static const char *TAG = "edge_hal";
static const char *TAG_CORE = "edge_core";

#define NVS_NAMESPACE "edge"            /* PROTOCOL.md 7 */
#define DHT_MAX_AGE_US 5000000          /* reuse a reading up to 5 s old */
#define BUTTON_DEBOUNCE_US 30000
#define UART_EVENT_QUEUE_LEN 8
#define UART_EVENT_TASK_STACK 2048

static const char *const s_sensor_names[HAL_SENSOR_COUNT] = {
    [HAL_SENSOR_TEMPERATURE] = "temperature",
    [HAL_SENSOR_HUMIDITY] = "humidity",
    [HAL_SENSOR_POTENTIOMETER] = "potentiometer",
};

static struct {
    bool nvs_ok;
    nvs_handle_t nvs;
    bool dht_ok;
    dht22_t dht;
    bool adc_ok;
    adc_oneshot_unit_handle_t adc;
    adc_channel_t adc_channel;
    atomic_bool time_synced;
#if CONFIG_EDGE_TRANSPORT_MQTT
    esp_mqtt_client_handle_t mqtt;
    bool mqtt_up;
#endif
#if CONFIG_EDGE_TRANSPORT_UART
    bool uart_ok;
    QueueHandle_t uart_events;
    TaskHandle_t uart_notify_task;
    uint32_t uart_notify_bits;
#endif
    TaskHandle_t button_task;
    uint32_t button_bits;
    int button_stable;      /* debounced level */
    int button_raw;
    int64_t button_change_us;
} s;

/* ---- clocks -------------------------------------------------------------- */

static uint64_t hal_monotonic_ms(void *ctx)
{
    (void)ctx;
    return (uint64_t)(esp_timer_get_time() / 1000);
}

static bool hal_wall_clock_ms(void *ctx, uint64_t *epoch_ms)
{
    (void)ctx;
    if (!atomic_load(&s.time_synced)) {
        return false;
    }
    struct timeval tv;
    if (gettimeofday(&tv, NULL) != 0 || tv.tv_sec < 1600000000) {
        return false;
    }
    *epoch_ms = (uint64_t)tv.tv_sec * 1000u + (uint64_t)(tv.tv_usec / 1000);
    return true;
}

void hal_esp32_set_time_synced(bool synced)
{
    atomic_store(&s.time_synced, synced);
}

/* ---- persistent key/value: NVS namespace "edge" ------------------------- */

static edge_err_t hal_kv_get_u32(void *ctx, const char *key, uint32_t *value)
{
    (void)ctx;
    if (!s.nvs_ok) {
        return EDGE_ERR_HAL;
    }
    esp_err_t err = nvs_get_u32(s.nvs, key, value);
    if (err == ESP_ERR_NVS_NOT_FOUND) {
        return EDGE_ERR_NOT_FOUND;
    }
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "nvs_get_u32(%s): %s", key, esp_err_to_name(err));
        return EDGE_ERR_HAL;
    }
    return EDGE_OK;
}

static edge_err_t hal_kv_set_u32(void *ctx, const char *key, uint32_t value)
{
    (void)ctx;
    if (!s.nvs_ok) {
        return EDGE_ERR_HAL;
    }
    esp_err_t err = nvs_set_u32(s.nvs, key, value);
    if (err == ESP_OK) {
        err = nvs_commit(s.nvs); /* durable only after the commit */
    }
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "nvs set/commit(%s): %s", key, esp_err_to_name(err));
        return EDGE_ERR_HAL;
    }
    return EDGE_OK;
}

/* ---- sensors ------------------------------------------------------------- */

static bool hal_read_sensor(void *ctx, uint8_t index, float *value)
{
    (void)ctx;
    switch (index) {
    case HAL_SENSOR_TEMPERATURE:
    case HAL_SENSOR_HUMIDITY:
        if (!s.dht_ok || dht22_read(&s.dht, DHT_MAX_AGE_US) != ESP_OK) {
            return false;
        }
        *value = index == HAL_SENSOR_TEMPERATURE ? s.dht.temperature_c : s.dht.humidity_pct;
        return true;
    case HAL_SENSOR_POTENTIOMETER: {
        int raw = 0;
        if (!s.adc_ok || adc_oneshot_read(s.adc, s.adc_channel, &raw) != ESP_OK) {
            return false;
        }
        /* percent of full scale */
        *value = (float)raw * 100.0f / (float)((1 << SOC_ADC_RTC_MAX_BITWIDTH) - 1);
        return true;
    }
    default:
        return false;
    }
}

const char *const *hal_esp32_sensor_names(void)
{
    return s_sensor_names;
}

/* ---- transports ---------------------------------------------------------- */

#if CONFIG_EDGE_TRANSPORT_MQTT
void hal_esp32_set_mqtt_client(esp_mqtt_client_handle_t client)
{
    s.mqtt = client;
}

void hal_esp32_set_mqtt_up(bool up)
{
    s.mqtt_up = up;
}

static bool hal_mqtt_connected(void *ctx)
{
    (void)ctx;
    return s.mqtt != NULL && s.mqtt_up;
}

static int32_t hal_mqtt_publish(void *ctx, const char *topic, const uint8_t *payload,
                                size_t len, uint8_t qos, bool retain)
{
    (void)ctx;
    if (s.mqtt == NULL || len == 0 || len > INT32_MAX) {
        return -1; /* len 0 would make esp-mqtt take strlen(payload) */
    }
    /* enqueue, not publish: never blocks the node task on the network; the
     * MQTT task sends it. Returns the msg id, -1 error, -2 outbox full. */
    return esp_mqtt_client_enqueue(s.mqtt, topic, (const char *)payload, (int)len,
                                   qos, retain ? 1 : 0, false);
}

static bool hal_mqtt_subscribe(void *ctx, const char *topic, uint8_t qos)
{
    (void)ctx;
    return s.mqtt != NULL && esp_mqtt_client_subscribe_single(s.mqtt, topic, qos) >= 0;
}

static int32_t hal_wifi_rssi(void *ctx)
{
    (void)ctx;
    wifi_ap_record_t ap;
    return esp_wifi_sta_get_ap_info(&ap) == ESP_OK ? ap.rssi : 0;
}
#endif /* CONFIG_EDGE_TRANSPORT_MQTT */

#if CONFIG_EDGE_TRANSPORT_UART
static bool hal_serial_write(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    if (!s.uart_ok) {
        return false;
    }
    /* no TX ring buffer installed: returns once every byte is in the FIFO */
    return uart_write_bytes(CONFIG_EDGE_UART_PORT, data, len) == (int)len;
}

size_t hal_esp32_uart_read(uint8_t *buf, size_t cap)
{
    if (!s.uart_ok) {
        return 0;
    }
    int n = uart_read_bytes(CONFIG_EDGE_UART_PORT, buf, (uint32_t)cap, 0);
    return n > 0 ? (size_t)n : 0;
}

/* The driver reports RX through a queue; this task turns each report into a
 * notification of the node task, which then reads without blocking. */
static void uart_event_task(void *arg)
{
    (void)arg;
    for (;;) {
        uart_event_t ev;
        if (xQueueReceive(s.uart_events, &ev, portMAX_DELAY) != pdTRUE) {
            continue;
        }
        if (ev.type == UART_FIFO_OVF || ev.type == UART_BUFFER_FULL) {
            ESP_LOGW(TAG, "UART RX overflow: bytes lost, the core resyncs on the next frame");
        }
        xTaskNotify(s.uart_notify_task, s.uart_notify_bits, eSetBits);
    }
}

esp_err_t hal_esp32_uart_notify(TaskHandle_t task, uint32_t bits)
{
    if (!s.uart_ok) {
        return ESP_ERR_INVALID_STATE;
    }
    s.uart_notify_task = task;
    s.uart_notify_bits = bits;
    return xTaskCreate(uart_event_task, "edge_uart", UART_EVENT_TASK_STACK, NULL,
                       uxTaskPriorityGet(task) + 1, NULL) == pdPASS ? ESP_OK : ESP_ERR_NO_MEM;
}

static esp_err_t uart_transport_init(void)
{
    const uart_config_t cfg = {
        .baud_rate = CONFIG_EDGE_UART_BAUD,
        .data_bits = UART_DATA_8_BITS,
        .parity = UART_PARITY_DISABLE,
        .stop_bits = UART_STOP_BITS_1,
        .flow_ctrl = UART_HW_FLOWCTRL_DISABLE,
        .source_clk = UART_SCLK_DEFAULT,
    };
    ESP_RETURN_ON_ERROR(uart_driver_install(CONFIG_EDGE_UART_PORT, 2048, 0, UART_EVENT_QUEUE_LEN,
                                            &s.uart_events, 0), TAG, "uart install");
    ESP_RETURN_ON_ERROR(uart_param_config(CONFIG_EDGE_UART_PORT, &cfg), TAG, "uart config");
    ESP_RETURN_ON_ERROR(uart_set_pin(CONFIG_EDGE_UART_PORT, CONFIG_EDGE_UART_TX_GPIO,
                                     CONFIG_EDGE_UART_RX_GPIO, UART_PIN_NO_CHANGE,
                                     UART_PIN_NO_CHANGE), TAG, "uart pins");
    return ESP_OK;
}
#endif /* CONFIG_EDGE_TRANSPORT_UART */

/* ---- misc ---------------------------------------------------------------- */

static uint32_t hal_random_u32(void *ctx)
{
    (void)ctx;
    return esp_random();
}

static void hal_log(void *ctx, edge_log_level_t level, const char *msg)
{
    (void)ctx;
    switch (level) {
    case EDGE_LOG_ERROR: ESP_LOGE(TAG_CORE, "%s", msg); break;
    case EDGE_LOG_WARN:  ESP_LOGW(TAG_CORE, "%s", msg); break;
    case EDGE_LOG_INFO:  ESP_LOGI(TAG_CORE, "%s", msg); break;
    default:             ESP_LOGD(TAG_CORE, "%s", msg); break;
    }
}

static uint32_t hal_free_heap(void *ctx)
{
    (void)ctx;
    return esp_get_free_heap_size();
}

static void hal_reboot(void *ctx)
{
    (void)ctx;
    ESP_LOGW(TAG, "reboot requested by command");
    esp_restart();
}

static const edge_hal_t s_hal = {
    .ctx = NULL,
    .monotonic_ms = hal_monotonic_ms,
    .wall_clock_ms = hal_wall_clock_ms,
    .read_sensor = hal_read_sensor,
#if CONFIG_EDGE_TRANSPORT_MQTT
    .mqtt_connected = hal_mqtt_connected,
    .mqtt_publish = hal_mqtt_publish,
    .mqtt_subscribe = hal_mqtt_subscribe,
    .wifi_rssi = hal_wifi_rssi,
#endif
#if CONFIG_EDGE_TRANSPORT_UART
    .serial_write = hal_serial_write,
#endif
    .kv_get_u32 = hal_kv_get_u32,
    .kv_set_u32 = hal_kv_set_u32,
    .random_u32 = hal_random_u32,
    .log = hal_log,
    .free_heap = hal_free_heap,
    .reboot = hal_reboot,
};

const edge_hal_t *hal_esp32(void)
{
    return &s_hal;
}

/* ---- LED and button -------------------------------------------------------- */

void hal_esp32_led(bool on)
{
    gpio_set_level(CONFIG_EDGE_LED_GPIO, on ? 1 : 0);
}

bool hal_esp32_button_settling(void)
{
    return s.button_raw != s.button_stable;
}

static void IRAM_ATTR button_isr(void *arg)
{
    (void)arg;
    BaseType_t woken = pdFALSE;
    xTaskNotifyFromISR(s.button_task, s.button_bits, eSetBits, &woken);
    portYIELD_FROM_ISR(woken);
}

esp_err_t hal_esp32_button_notify(TaskHandle_t task, uint32_t bits)
{
    s.button_task = task;
    s.button_bits = bits;
    esp_err_t err = gpio_install_isr_service(0);
    if (err != ESP_OK && err != ESP_ERR_INVALID_STATE) { /* INVALID_STATE: already installed */
        return err;
    }
    ESP_RETURN_ON_ERROR(gpio_set_intr_type(CONFIG_EDGE_BUTTON_GPIO, GPIO_INTR_ANYEDGE), TAG, "button intr");
    return gpio_isr_handler_add(CONFIG_EDGE_BUTTON_GPIO, button_isr, NULL);
}

bool hal_esp32_button_pressed(void)
{
    int raw = gpio_get_level(CONFIG_EDGE_BUTTON_GPIO);
    int64_t now = esp_timer_get_time();
    if (raw != s.button_raw) {
        s.button_raw = raw;
        s.button_change_us = now;
        return false;
    }
    if (raw != s.button_stable && now - s.button_change_us >= BUTTON_DEBOUNCE_US) {
        s.button_stable = raw;
        return raw == 0; /* active low: pressed connects the pin to GND */
    }
    return false;
}

static esp_err_t adc_init(void)
{
    adc_unit_t unit;
    ESP_RETURN_ON_ERROR(adc_oneshot_io_to_channel(CONFIG_EDGE_POT_GPIO, &unit, &s.adc_channel),
                        TAG, "GPIO%d has no ADC channel", CONFIG_EDGE_POT_GPIO);
    if (unit != ADC_UNIT_1) {
        ESP_LOGW(TAG, "GPIO%d is on ADC%d; ADC2 reads fail while Wi-Fi is on",
                 CONFIG_EDGE_POT_GPIO, (int)unit + 1);
    }
    const adc_oneshot_unit_init_cfg_t ucfg = { .unit_id = unit, .ulp_mode = ADC_ULP_MODE_DISABLE };
    ESP_RETURN_ON_ERROR(adc_oneshot_new_unit(&ucfg, &s.adc), TAG, "adc unit");
    const adc_oneshot_chan_cfg_t ccfg = { .atten = ADC_ATTEN_DB_12, .bitwidth = ADC_BITWIDTH_DEFAULT };
    ESP_RETURN_ON_ERROR(adc_oneshot_config_channel(s.adc, s.adc_channel, &ccfg), TAG, "adc channel");
    return ESP_OK;
}

esp_err_t hal_esp32_init(void)
{
    esp_err_t err = nvs_open(NVS_NAMESPACE, NVS_READWRITE, &s.nvs);
    s.nvs_ok = err == ESP_OK;
    if (!s.nvs_ok) {
        /* the core then holds telemetry back (PROTOCOL.md 7) */
        ESP_LOGE(TAG, "nvs_open(%s): %s", NVS_NAMESPACE, esp_err_to_name(err));
    }

    s.dht_ok = dht22_init(&s.dht, (gpio_num_t)CONFIG_EDGE_DHT_GPIO) == ESP_OK;
    if (!s.dht_ok) {
        ESP_LOGE(TAG, "DHT22 on GPIO%d: init failed", CONFIG_EDGE_DHT_GPIO);
    }
    s.adc_ok = adc_init() == ESP_OK;

    const gpio_config_t led = {
        .pin_bit_mask = 1ULL << CONFIG_EDGE_LED_GPIO,
        .mode = GPIO_MODE_OUTPUT,
        .pull_up_en = GPIO_PULLUP_DISABLE,
        .pull_down_en = GPIO_PULLDOWN_DISABLE,
        .intr_type = GPIO_INTR_DISABLE,
    };
    ESP_RETURN_ON_ERROR(gpio_config(&led), TAG, "LED GPIO%d", CONFIG_EDGE_LED_GPIO);
    hal_esp32_led(false);

    const gpio_config_t button = {
        .pin_bit_mask = 1ULL << CONFIG_EDGE_BUTTON_GPIO,
        .mode = GPIO_MODE_INPUT,
        .pull_up_en = GPIO_PULLUP_ENABLE,
        .pull_down_en = GPIO_PULLDOWN_DISABLE,
        .intr_type = GPIO_INTR_DISABLE,
    };
    ESP_RETURN_ON_ERROR(gpio_config(&button), TAG, "button GPIO%d", CONFIG_EDGE_BUTTON_GPIO);
    s.button_raw = s.button_stable = 1;

#if CONFIG_EDGE_TRANSPORT_UART
    ESP_RETURN_ON_ERROR(uart_transport_init(), TAG, "UART%d", CONFIG_EDGE_UART_PORT);
    s.uart_ok = true;
#endif
    return ESP_OK;
}
