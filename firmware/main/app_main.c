/* ESP32 edge node: ESP-IDF v5 glue around the portable core (edge_node.h).
 *
 * One task (app_main's) owns the core. Wi-Fi, SNTP and esp-mqtt run in their
 * own tasks. State (MQTT up, got IP, time synced) is kept in atomic flags and
 * announced with a task-notification bit, so it is never lost; PUBACKs,
 * deletions and commands go through s_events, and a full queue costs only a
 * resend (the core's PUBACK timeout recovers it). The loop sleeps until the
 * core's next deadline or a notification: it never spins.
 *
 * Serial lines that tests wait for (simulator/wokwi/scenario.yaml):
 *   "edge: boot count <n>"
 *   "edge: mqtt connected"
 *   "edge: published batch seq=<s> readings=<n>"   (after PUBACK / ack frame)
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "freertos/task.h"

#include "bootloader_random.h"
#include "esp_err.h"
#include "esp_event.h"
#include "esp_log.h"
#include "esp_mac.h"
#include "esp_netif.h"
#include "esp_random.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "nvs_flash.h"
#include "sdkconfig.h"

#if CONFIG_EDGE_TRANSPORT_MQTT
#include "esp_netif_sntp.h"
#include "esp_wifi.h"
#include "mqtt_client.h"
#endif

#include "edge_node.h"
#include "hal_esp32.h"

static const char *TAG = "edge";

#define LOOP_MAX_WAIT_MS   60000u /* a bound on one sleep, not a poll period */
#define BUTTON_RECHECK_MS  10u    /* while a press settles (debounce) */
#define EVENT_QUEUE_LEN    16
#define CMD_PAYLOAD_MAX    128u  /* a command map is ~30 bytes (PROTOCOL.md 6) */
#define LED_BLINK_MS       100u

/* Task-notification bits of the node task. */
#define NOTIFY_QUEUE   (1u << 0)  /* s_events has something */
#define NOTIFY_STATE   (1u << 1)  /* MQTT up/down or got IP: read the flags */
#define NOTIFY_BUTTON  (1u << 2)
#define NOTIFY_UART    (1u << 3)

/* esp-mqtt drops an outbox entry this long after it was queued (mqtt_config.h:
 * OUTBOX_EXPIRED_TIMEOUT_MS). The core waits longer for a PUBACK before it
 * resends, so it never sends a batch esp-mqtt still retransmits. */
#ifdef CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS
#define MQTT_OUTBOX_EXPIRY_MS CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS
#else
#define MQTT_OUTBOX_EXPIRY_MS 30000u
#endif
#define MQTT_ACK_TIMEOUT_MS (MQTT_OUTBOX_EXPIRY_MS + 15000u)

typedef enum {
    EV_MQTT_PUBACK,
    EV_MQTT_DELETED,
    EV_MQTT_COMMAND,
} ev_type_t;

typedef struct {
    ev_type_t type;
    int32_t msg_id;
    uint16_t len;
    uint8_t data[CMD_PAYLOAD_MAX];
} ev_t;

static edge_node_t s_node;            /* ~15 KB: static, never on a stack */
static QueueHandle_t s_events;
static TaskHandle_t s_node_task;
static char s_device_id[32];
static bool s_connected;              /* as the core sees it (node task only) */
static uint64_t s_led_off_until_ms;
static atomic_uint s_events_dropped;

static void notify_node(uint32_t bits)
{
    xTaskNotify(s_node_task, bits, eSetBits);
}

/* ---- NVS ------------------------------------------------------------------ */

/* After an erase the boot counter is gone, and counting again from 1 would repeat
 * message ids (device:boot:seq) the bridge and consumers have already seen. So the
 * counter restarts at a random value with the top bit set: earlier counters are
 * small, and two erases collide with odds of 1 in 2^30. */
static void nvs_reseed_boot_counter(void)
{
    nvs_handle_t h;
    ESP_ERROR_CHECK(nvs_open("edge", NVS_READWRITE, &h)); /* namespace and key: PROTOCOL.md 7 */
    /* RF is not up yet, so esp_random() alone would be pseudo-random here;
     * this entropy source must be off again before Wi-Fi or the ADC start. */
    bootloader_random_enable();
    uint32_t salt = esp_random();
    bootloader_random_disable();
    uint32_t boot = 0x80000000u | (salt & 0x3fffffffu); /* room for 2^30 more boots */
    ESP_ERROR_CHECK(nvs_set_u32(h, "boot", boot));
    ESP_ERROR_CHECK(nvs_commit(h));
    nvs_close(h);
    ESP_LOGW(TAG, "NVS erased: boot counter reseeded at %" PRIu32, boot);
}

static void nvs_init(void)
{
    esp_err_t err = nvs_flash_init();
    if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
        /* The partition is full or from a newer layout: it must be erased. */
        ESP_LOGW(TAG, "NVS: %s, erasing", esp_err_to_name(err));
        ESP_ERROR_CHECK(nvs_flash_erase());
        ESP_ERROR_CHECK(nvs_flash_init());
        nvs_reseed_boot_counter();
        return;
    }
    ESP_ERROR_CHECK(err);
}

/* ---- device id: "esp32-" + station MAC (PROTOCOL.md 4) -------------------- */

static void device_id_init(void)
{
    uint8_t mac[6];
    ESP_ERROR_CHECK(esp_read_mac(mac, ESP_MAC_WIFI_STA));
    snprintf(s_device_id, sizeof s_device_id, "esp32-%02x%02x%02x%02x%02x%02x",
             mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

static uint64_t now_ms(void)
{
    return (uint64_t)(esp_timer_get_time() / 1000);
}

#if CONFIG_EDGE_TRANSPORT_MQTT
static atomic_bool s_mqtt_up;         /* latest MQTT_EVENT_CONNECTED/DISCONNECTED */
static atomic_uint s_mqtt_sessions;   /* MQTT_EVENT_CONNECTED so far */
static atomic_bool s_have_ip;

/* Never blocks the MQTT task. A lost PUBACK or DELETED costs one resend after the
 * core's PUBACK timeout (the bridge dedupes); a lost command is counted and the
 * sender sees no confirming status. */
static void post_event(const ev_t *ev)
{
    if (xQueueSend(s_events, ev, 0) != pdTRUE) {
        atomic_fetch_add(&s_events_dropped, 1);
    }
    notify_node(NOTIFY_QUEUE);
}

/* ---- Wi-Fi station with reconnect backoff ---------------------------------- */

static esp_mqtt_client_handle_t s_mqtt;
static bool s_mqtt_started;
static esp_timer_handle_t s_wifi_retry_timer;
static atomic_uint s_wifi_backoff_ms = 1000; /* event task and esp_timer task */
static atomic_uint s_wifi_errors;
static char s_cmd_topic[EDGE_TOPIC_MAX];

static void wifi_schedule_retry(void)
{
    esp_timer_stop(s_wifi_retry_timer); /* ESP_ERR_INVALID_STATE if idle: fine */
    unsigned backoff = atomic_load(&s_wifi_backoff_ms);
    esp_err_t err = esp_timer_start_once(s_wifi_retry_timer, (uint64_t)backoff * 1000u);
    if (err != ESP_OK) {
        atomic_fetch_add(&s_wifi_errors, 1);
        ESP_LOGE(TAG, "Wi-Fi retry timer: %s", esp_err_to_name(err));
    }
    atomic_store(&s_wifi_backoff_ms, backoff >= 30000u ? 60000u : backoff * 2u);
}

/* Runs in the esp_timer task or the event task. A failed connect raises no
 * DISCONNECTED event, so it schedules the next try itself. */
static void wifi_connect(void *arg)
{
    (void)arg;
    esp_err_t err = esp_wifi_connect();
    if (err != ESP_OK) {
        atomic_fetch_add(&s_wifi_errors, 1);
        ESP_LOGW(TAG, "esp_wifi_connect: %s (%u errors), retry in %u ms", esp_err_to_name(err),
                 atomic_load(&s_wifi_errors), atomic_load(&s_wifi_backoff_ms));
        wifi_schedule_retry();
    }
}

static void wifi_event(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    (void)arg;
    if (base == WIFI_EVENT && id == WIFI_EVENT_STA_START) {
        wifi_connect(NULL);
    } else if (base == WIFI_EVENT && id == WIFI_EVENT_STA_DISCONNECTED) {
        const wifi_event_sta_disconnected_t *d = data;
        ESP_LOGW(TAG, "Wi-Fi disconnected (reason %d), retry in %u ms",
                 d->reason, atomic_load(&s_wifi_backoff_ms));
        wifi_schedule_retry();
    } else if (base == IP_EVENT && id == IP_EVENT_STA_GOT_IP) {
        const ip_event_got_ip_t *e = data;
        ESP_LOGI(TAG, "got IP " IPSTR, IP2STR(&e->ip_info.ip));
        atomic_store(&s_wifi_backoff_ms, 1000);
        atomic_store(&s_have_ip, true);
        notify_node(NOTIFY_STATE); /* the node task starts esp-mqtt */
    }
}

static void wifi_init(void)
{
    esp_netif_create_default_wifi_sta();
    wifi_init_config_t cfg = WIFI_INIT_CONFIG_DEFAULT();
    ESP_ERROR_CHECK(esp_wifi_init(&cfg));

    const esp_timer_create_args_t retry = { .callback = wifi_connect, .name = "wifi_retry" };
    ESP_ERROR_CHECK(esp_timer_create(&retry, &s_wifi_retry_timer));
    ESP_ERROR_CHECK(esp_event_handler_instance_register(WIFI_EVENT, ESP_EVENT_ANY_ID, wifi_event, NULL, NULL));
    ESP_ERROR_CHECK(esp_event_handler_instance_register(IP_EVENT, IP_EVENT_STA_GOT_IP, wifi_event, NULL, NULL));

    wifi_config_t wc = { 0 };
    strlcpy((char *)wc.sta.ssid, CONFIG_EDGE_WIFI_SSID, sizeof wc.sta.ssid);
    strlcpy((char *)wc.sta.password, CONFIG_EDGE_WIFI_PASSWORD, sizeof wc.sta.password);
    wc.sta.threshold.authmode = CONFIG_EDGE_WIFI_PASSWORD[0] ? WIFI_AUTH_WPA2_PSK : WIFI_AUTH_OPEN;
    ESP_ERROR_CHECK(esp_wifi_set_mode(WIFI_MODE_STA));
    ESP_ERROR_CHECK(esp_wifi_set_config(WIFI_IF_STA, &wc));
    ESP_ERROR_CHECK(esp_wifi_start());
}

/* ---- SNTP ------------------------------------------------------------------ */

static void time_synced(struct timeval *tv)
{
    (void)tv;
    hal_esp32_set_time_synced(true);
    ESP_LOGI(TAG, "time synced (SNTP)");
}

static void sntp_init_once(void)
{
    esp_sntp_config_t cfg = ESP_NETIF_SNTP_DEFAULT_CONFIG(CONFIG_EDGE_SNTP_SERVER);
    cfg.sync_cb = time_synced;
    ESP_ERROR_CHECK(esp_netif_sntp_init(&cfg));
    /* No esp_netif_sntp_sync_wait(): batches carry u=true until synced. */
}

/* ---- MQTT: the one event switch -------------------------------------------- */

static void mqtt_event(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    (void)arg;
    (void)base;
    const esp_mqtt_event_handle_t e = data;
    ev_t ev = { 0 };

    switch ((esp_mqtt_event_id_t)id) {
    case MQTT_EVENT_CONNECTED:
        atomic_fetch_add(&s_mqtt_sessions, 1);
        atomic_store(&s_mqtt_up, true);
        notify_node(NOTIFY_STATE);
        break;
    case MQTT_EVENT_DISCONNECTED:
        atomic_store(&s_mqtt_up, false);
        notify_node(NOTIFY_STATE);
        break;
    case MQTT_EVENT_PUBLISHED: /* PUBACK for a QoS 1 publish */
        ev.type = EV_MQTT_PUBACK;
        ev.msg_id = e->msg_id;
        post_event(&ev);
        break;
    case MQTT_EVENT_DATA:
        if (e->topic_len != (int)strlen(s_cmd_topic) ||
            memcmp(e->topic, s_cmd_topic, (size_t)e->topic_len) != 0) {
            break;
        }
        if (e->current_data_offset != 0 || e->data_len != e->total_data_len ||
            e->data_len <= 0 || e->data_len > (int)CMD_PAYLOAD_MAX) {
            ESP_LOGW(TAG, "command of %d bytes ignored (max %u, unfragmented)",
                     e->total_data_len, CMD_PAYLOAD_MAX);
            break;
        }
        ev.type = EV_MQTT_COMMAND;
        ev.len = (uint16_t)e->data_len;
        memcpy(ev.data, e->data, (size_t)e->data_len);
        post_event(&ev);
        break;
    case MQTT_EVENT_SUBSCRIBED:
        ESP_LOGI(TAG, "subscribed, msg_id=%d", e->msg_id);
        break;
    case MQTT_EVENT_DELETED:
        /* esp-mqtt's outbox expired it: the core sends that batch again */
        ESP_LOGW(TAG, "esp-mqtt dropped msg_id=%d from its outbox", e->msg_id);
        ev.type = EV_MQTT_DELETED;
        ev.msg_id = e->msg_id;
        post_event(&ev);
        break;
    case MQTT_EVENT_ERROR:
        if (e->error_handle != NULL) {
            ESP_LOGW(TAG, "MQTT error type=%d connect_rc=%d tls=0x%x errno=%d",
                     (int)e->error_handle->error_type, (int)e->error_handle->connect_return_code,
                     (unsigned)e->error_handle->esp_tls_last_esp_err,
                     e->error_handle->esp_transport_sock_errno);
        }
        break;
    default:
        break;
    }
}

static void mqtt_init(void)
{
    static char will_topic[EDGE_TOPIC_MAX];
    static uint8_t will_payload[128];
    size_t will_len = 0;
    ESP_ERROR_CHECK(edge_node_will(&s_node, will_topic, sizeof will_topic, will_payload,
                                   sizeof will_payload, &will_len) == EDGE_OK ? ESP_OK : ESP_FAIL);
    ESP_ERROR_CHECK(edge_node_topic(&s_node, EDGE_TOPIC_CMD, s_cmd_topic, sizeof s_cmd_topic) == EDGE_OK
                        ? ESP_OK : ESP_FAIL);

    const esp_mqtt_client_config_t cfg = {
        .broker.address.uri = CONFIG_EDGE_BROKER_URI,
        .credentials.client_id = s_device_id,
        .session = {
            .last_will = {
                .topic = will_topic,
                .msg = (const char *)will_payload,
                .msg_len = (int)will_len,      /* binary: may contain 0x00 */
                .qos = 1,
                .retain = 1,
            },
            .keepalive = CONFIG_EDGE_MQTT_KEEPALIVE_S,
        },
        .network.reconnect_timeout_ms = 5000,
        .outbox.limit = CONFIG_EDGE_MQTT_OUTBOX_LIMIT,
    };
    s_mqtt = esp_mqtt_client_init(&cfg);
    ESP_ERROR_CHECK(s_mqtt != NULL ? ESP_OK : ESP_FAIL);
    ESP_ERROR_CHECK(esp_mqtt_client_register_event(s_mqtt, MQTT_EVENT_ANY, mqtt_event, NULL));
    hal_esp32_set_mqtt_client(s_mqtt);
    ESP_LOGI(TAG, "MQTT broker %s, client id %s", CONFIG_EDGE_BROKER_URI, s_device_id);
}
#endif /* CONFIG_EDGE_TRANSPORT_MQTT */

/* ---- "published batch" lines ----------------------------------------------
 * The core removes a batch from its outbox when the transport acknowledges
 * it. Snapshot the in-flight batches before handing an ack to the core and
 * report those that are gone (or done) afterwards. */

typedef struct {
    uint32_t seq;
    uint16_t count;
} inflight_t;

static inflight_t s_inflight[EDGE_OUTBOX_CAPACITY];

static size_t inflight_snapshot(void)
{
    size_t n = 0;
    for (uint16_t i = 0; i < s_node.outbox.len && n < EDGE_OUTBOX_CAPACITY; i++) {
        const edge_ob_entry_t *e = edge_outbox_at(&s_node.outbox, i);
        if (e->state == EDGE_OB_IN_FLIGHT) {
            s_inflight[n++] = (inflight_t){ .seq = e->seq, .count = e->count };
        }
    }
    return n;
}

static void report_acked(size_t n)
{
    for (size_t k = 0; k < n; k++) {
        bool still_open = false;
        for (uint16_t i = 0; i < s_node.outbox.len; i++) {
            const edge_ob_entry_t *e = edge_outbox_at(&s_node.outbox, i);
            if (e->seq == s_inflight[k].seq && e->state != EDGE_OB_DONE) {
                still_open = true;
                break;
            }
        }
        if (!still_open) {
            printf("edge: published batch seq=%" PRIu32 " readings=%u\n",
                   s_inflight[k].seq, (unsigned)s_inflight[k].count);
            s_led_off_until_ms = now_ms() + LED_BLINK_MS;
        }
    }
}

/* ---- pushbutton: close the open batch now ----------------------------------- */
static void flush_open_batch(void)
{
    if (edge_node_flush(&s_node)) {
        ESP_LOGI(TAG, "button: closed the open batch");
    } else {
        ESP_LOGI(TAG, "button: no open batch");
    }
}

static void handle_event(const ev_t *ev)
{
    switch (ev->type) {
#if CONFIG_EDGE_TRANSPORT_MQTT
    case EV_MQTT_PUBACK: {
        size_t n = inflight_snapshot();
        edge_node_on_mqtt_puback(&s_node, ev->msg_id);
        report_acked(n);
        break;
    }
    case EV_MQTT_DELETED:
        edge_node_on_mqtt_deleted(&s_node, ev->msg_id);
        break;
    case EV_MQTT_COMMAND: {
        edge_err_t err = edge_node_on_command(&s_node, ev->data, ev->len);
        ESP_LOGI(TAG, "command: %s", edge_err_name(err));
        break;
    }
#endif
    default:
        break;
    }
}

#if CONFIG_EDGE_TRANSPORT_MQTT
/* Brings the core in line with the latest MQTT state. Several CONNECTED and
 * DISCONNECTED events may have happened since the last call: a new session
 * count means the core's session ended even if the link is up again. */
static void sync_mqtt_state(void)
{
    static unsigned sessions_seen;
    bool up = atomic_load(&s_mqtt_up);
    unsigned sessions = atomic_load(&s_mqtt_sessions);
    if (s_connected && (!up || sessions != sessions_seen)) {
        ESP_LOGW(TAG, "MQTT disconnected");
        hal_esp32_set_mqtt_up(false);
        s_connected = false;
        edge_node_on_disconnected(&s_node);
    }
    if (up && !s_connected) {
        printf("edge: mqtt connected\n");
        hal_esp32_set_mqtt_up(true);
        s_connected = true;
        edge_node_on_connected(&s_node); /* subscribe cmd, birth */
    }
    sessions_seen = sessions;

    if (atomic_load(&s_have_ip) && !s_mqtt_started) {
        /* esp-mqtt reconnects by itself from here on; a failed start is tried
         * again at the next wake */
        esp_err_t err = esp_mqtt_client_start(s_mqtt);
        if (err == ESP_OK) {
            s_mqtt_started = true;
        } else {
            ESP_LOGE(TAG, "esp_mqtt_client_start: %s", esp_err_to_name(err));
        }
    }
}
#endif

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static TickType_t ticks_until(uint64_t now, uint64_t due)
{
    uint64_t ms = due > now ? due - now : 0;
    if (ms > LOOP_MAX_WAIT_MS) {
        ms = LOOP_MAX_WAIT_MS;
    }
    return (TickType_t)((ms + portTICK_PERIOD_MS - 1) / portTICK_PERIOD_MS); /* round up */
}

void app_main(void)
{
    nvs_init();
    ESP_ERROR_CHECK(esp_netif_init());
    ESP_ERROR_CHECK(esp_event_loop_create_default());
    device_id_init();
    ESP_ERROR_CHECK(hal_esp32_init());

    s_node_task = xTaskGetCurrentTaskHandle();
    s_events = xQueueCreate(EVENT_QUEUE_LEN, sizeof(ev_t));
    ESP_ERROR_CHECK(s_events != NULL ? ESP_OK : ESP_ERR_NO_MEM);

    const edge_node_config_t cfg = {
        .device_id = s_device_id,
#if CONFIG_EDGE_TRANSPORT_MQTT
        .topic_prefix = CONFIG_EDGE_TOPIC_PREFIX,
        .transport = EDGE_TRANSPORT_MQTT,
#else
        .transport = EDGE_TRANSPORT_SERIAL,
#endif
        .firmware = CONFIG_EDGE_FIRMWARE_VERSION,
        .sensor_names = hal_esp32_sensor_names(),
        .sensor_count = HAL_SENSOR_COUNT,
        .interval_ms = CONFIG_EDGE_SAMPLE_INTERVAL_MS,
        .batch_size = CONFIG_EDGE_BATCH_SIZE,
        .batch_max_age_ms = CONFIG_EDGE_BATCH_MAX_AGE_MS,
#if CONFIG_EDGE_TRANSPORT_MQTT
        .mqtt_ack_timeout_ms = MQTT_ACK_TIMEOUT_MS,
#endif
    };
    /* Reads the boot counter through the HAL (NVS "edge"/"boot"), adds one
     * and commits it before any telemetry can leave (PROTOCOL.md 7). */
    edge_err_t err = edge_node_init(&s_node, &cfg, hal_esp32());
    if (err == EDGE_ERR_HAL) {
        ESP_LOGE(TAG, "boot counter not committed: telemetry held back, retrying");
    } else {
        ESP_ERROR_CHECK(err == EDGE_OK ? ESP_OK : ESP_ERR_INVALID_ARG);
    }
    edge_node_stats_t st;
    edge_node_stats(&s_node, &st);
    printf("edge: boot count %" PRIu32 " device %s firmware %s\n", st.boot, s_device_id,
           CONFIG_EDGE_FIRMWARE_VERSION);

    if (hal_esp32_button_notify(s_node_task, NOTIFY_BUTTON) != ESP_OK) {
        ESP_LOGW(TAG, "button interrupt not installed: the button is read at each wake only");
    }
#if CONFIG_EDGE_TRANSPORT_MQTT
    mqtt_init();
    sntp_init_once();
    wifi_init(); /* GOT_IP lets the loop start the MQTT client */
#else
    s_connected = true; /* serial: the core treats the link as always up */
    ESP_ERROR_CHECK(hal_esp32_uart_notify(s_node_task, NOTIFY_UART));
    ESP_LOGI(TAG, "serial transport on UART%d, %d baud", CONFIG_EDGE_UART_PORT, CONFIG_EDGE_UART_BAUD);
#endif

    unsigned dropped_reported = 0;
    for (;;) {
        uint64_t now = now_ms();
        uint64_t due = edge_node_next_due_ms(&s_node);
        if (s_led_off_until_ms > now) {
            due = min_u64(due, s_led_off_until_ms);
        }
        if (hal_esp32_button_settling()) {
            due = min_u64(due, now + BUTTON_RECHECK_MS);
        }
        uint32_t bits = 0;
        (void)xTaskNotifyWait(0, UINT32_MAX, &bits, ticks_until(now, due));

        ev_t ev;
        while (xQueueReceive(s_events, &ev, 0) == pdTRUE) {
            handle_event(&ev);
        }
        unsigned dropped = atomic_load(&s_events_dropped);
        if (dropped != dropped_reported) {
            ESP_LOGW(TAG, "event queue full: %u events dropped so far", dropped);
            dropped_reported = dropped;
        }
#if CONFIG_EDGE_TRANSPORT_MQTT
        sync_mqtt_state();
#endif
#if CONFIG_EDGE_TRANSPORT_UART
        static uint8_t rx[256];
        size_t n;
        while ((n = hal_esp32_uart_read(rx, sizeof rx)) > 0) {
            size_t inflight = inflight_snapshot();
            edge_node_on_serial_bytes(&s_node, rx, n); /* acks and commands */
            report_acked(inflight);
        }
#endif
        if (hal_esp32_button_pressed()) {
            flush_open_batch();
        }
        edge_node_step(&s_node, now_ms());
        hal_esp32_led(s_connected && now_ms() >= s_led_off_until_ms);
    }
}
