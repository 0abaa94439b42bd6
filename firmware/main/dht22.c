#include "dht22.h"

#include "edge_dht22.h"
#include "esp_attr.h"
#include "esp_check.h"
#include "esp_log.h"
#include "esp_rom_sys.h"
#include "esp_timer.h"
#include "soc/soc_caps.h"

static const char *TAG = "dht22";

#define DHT22_MIN_PERIOD_US   2000000
#define DHT22_START_LOW_US    1200    /* datasheet: at least 1 ms */
#define RMT_RESOLUTION_HZ     1000000 /* 1 tick = 1 us */
#define RX_GLITCH_NS          1000    /* shorter pulses are noise */
#define RX_IDLE_NS            200000  /* no edge for 200 us: the answer is over */
#define RX_WAIT_MS            10      /* the whole answer takes about 5 ms */
/* one symbol per low/high pair: start tail, answer, 40 bits, end: 43 */
#define RX_SYMBOLS            SOC_RMT_MEM_WORDS_PER_CHANNEL

static rmt_symbol_word_t s_symbols[RX_SYMBOLS];
static edge_pulse_t s_pulses[2 * RX_SYMBOLS];

static bool IRAM_ATTR on_rx_done(rmt_channel_handle_t chan, const rmt_rx_done_event_data_t *ev, void *ctx)
{
    (void)chan;
    BaseType_t woken = pdFALSE;
    xQueueSendFromISR((QueueHandle_t)ctx, ev, &woken);
    return woken == pdTRUE;
}

esp_err_t dht22_init(dht22_t *d, gpio_num_t pin)
{
    *d = (dht22_t){ .pin = pin, .last_try_us = -DHT22_MIN_PERIOD_US };
    d->done = xQueueCreate(1, sizeof(rmt_rx_done_event_data_t));
    ESP_RETURN_ON_FALSE(d->done != NULL, ESP_ERR_NO_MEM, TAG, "queue");
    const rmt_rx_channel_config_t cfg = {
        .gpio_num = pin,
        .clk_src = RMT_CLK_SRC_DEFAULT,
        .resolution_hz = RMT_RESOLUTION_HZ,
        .mem_block_symbols = RX_SYMBOLS,
    };
    ESP_RETURN_ON_ERROR(rmt_new_rx_channel(&cfg, &d->rx), TAG, "RMT RX channel");
    const rmt_rx_event_callbacks_t cbs = { .on_recv_done = on_rx_done };
    ESP_RETURN_ON_ERROR(rmt_rx_register_event_callbacks(d->rx, &cbs, d->done), TAG, "RMT callbacks");
    ESP_RETURN_ON_ERROR(rmt_enable(d->rx), TAG, "RMT enable");
    /* the RX channel routes the pin's input to the RMT; the host also drives
     * it (open drain) for the start signal */
    ESP_RETURN_ON_ERROR(gpio_set_direction(pin, GPIO_MODE_INPUT_OUTPUT_OD), TAG, "pin direction");
    ESP_RETURN_ON_ERROR(gpio_set_pull_mode(pin, GPIO_PULLUP_ONLY), TAG, "pin pull-up");
    return gpio_set_level(pin, 1); /* released: the pull-up holds it high */
}

static size_t flatten(const rmt_symbol_word_t *sym, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        s_pulses[k++] = (edge_pulse_t){ .high = sym[i].level0 != 0, .duration_us = (uint16_t)sym[i].duration0 };
        s_pulses[k++] = (edge_pulse_t){ .high = sym[i].level1 != 0, .duration_us = (uint16_t)sym[i].duration1 };
    }
    return k;
}

static esp_err_t dht22_transfer(dht22_t *d, edge_dht22_reading_t *out)
{
    const rmt_receive_config_t rx = {
        .signal_range_min_ns = RX_GLITCH_NS,
        .signal_range_max_ns = RX_IDLE_NS,
    };
    xQueueReset(d->done);
    /* Start signal: a busy wait with interrupts on; only its minimum matters. */
    gpio_set_level(d->pin, 0);
    esp_rom_delay_us(DHT22_START_LOW_US);
    /* arm the receiver just before the release: armed earlier, the long low
     * would end the capture as idle */
    esp_err_t err = rmt_receive(d->rx, s_symbols, sizeof s_symbols, &rx);
    gpio_set_level(d->pin, 1);
    if (err != ESP_OK) {
        return err;
    }
    rmt_rx_done_event_data_t ev;
    if (xQueueReceive(d->done, &ev, pdMS_TO_TICKS(RX_WAIT_MS) + 1) != pdTRUE) {
        /* nothing ended the capture: stop it so the next read can arm again */
        rmt_disable(d->rx);
        rmt_enable(d->rx);
        return ESP_ERR_TIMEOUT;
    }
    switch (edge_dht22_decode(s_pulses, flatten(ev.received_symbols, ev.num_symbols), out)) {
    case EDGE_DHT22_OK: return ESP_OK;
    case EDGE_DHT22_CHECKSUM: return ESP_ERR_INVALID_CRC;
    case EDGE_DHT22_TRUNCATED: return ESP_ERR_INVALID_RESPONSE;
    default: return ESP_ERR_TIMEOUT;
    }
}

esp_err_t dht22_read(dht22_t *d, int64_t max_age_us)
{
    int64_t now = esp_timer_get_time();
    if (now - d->last_try_us >= DHT22_MIN_PERIOD_US) {
        d->last_try_us = now;
        edge_dht22_reading_t r;
        esp_err_t err = dht22_transfer(d, &r);
        if (err == ESP_OK) {
            d->humidity_pct = r.humidity_pct;
            d->temperature_c = r.temperature_c;
            d->last_ok_us = now;
        } else {
            d->errors++;
            if (d->last_ok_us == 0 || now - d->last_ok_us > max_age_us) {
                return err;
            }
        }
    }
    if (d->last_ok_us == 0) {
        return ESP_ERR_INVALID_STATE;
    }
    return (now - d->last_ok_us <= max_age_us) ? ESP_OK : ESP_ERR_TIMEOUT;
}
