#include "dht22.h"

#include "esp_rom_sys.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"

#define DHT22_MIN_PERIOD_US   2000000
#define DHT22_START_LOW_US    1500   /* datasheet: 0.8..20 ms, typ. 1 ms */
#define DHT22_EDGE_TIMEOUT_US 200    /* every phase is <= ~90 us */

static portMUX_TYPE s_dht_mux = portMUX_INITIALIZER_UNLOCKED;

/* Microseconds the line stays at `level`, or -1 after timeout_us. */
static int32_t level_duration(gpio_num_t pin, int level, int32_t timeout_us)
{
    int64_t t0 = esp_timer_get_time();
    while (gpio_get_level(pin) == level) {
        int64_t dt = esp_timer_get_time() - t0;
        if (dt > timeout_us) {
            return -1;
        }
    }
    return (int32_t)(esp_timer_get_time() - t0);
}

esp_err_t dht22_init(dht22_t *d, gpio_num_t pin)
{
    *d = (dht22_t){ .pin = pin, .last_try_us = -DHT22_MIN_PERIOD_US };
    gpio_config_t io = {
        .pin_bit_mask = 1ULL << pin,
        .mode = GPIO_MODE_INPUT_OUTPUT_OD,
        .pull_up_en = GPIO_PULLUP_ENABLE,
        .pull_down_en = GPIO_PULLDOWN_DISABLE,
        .intr_type = GPIO_INTR_DISABLE,
    };
    esp_err_t err = gpio_config(&io);
    if (err == ESP_OK) {
        err = gpio_set_level(pin, 1); /* released: the pull-up holds it high */
    }
    return err;
}

static esp_err_t dht22_transfer(dht22_t *d, uint8_t data[5])
{
    const gpio_num_t pin = d->pin;
    esp_err_t err = ESP_OK;

    /* Start signal: hold low, then release. Outside the critical section:
     * it is long, and only its minimum length matters. */
    gpio_set_level(pin, 0);
    esp_rom_delay_us(DHT22_START_LOW_US);

    portENTER_CRITICAL(&s_dht_mux);
    gpio_set_level(pin, 1);
    /* host release (20-40 us high), sensor answers 80 us low + 80 us high */
    if (level_duration(pin, 1, DHT22_EDGE_TIMEOUT_US) < 0 ||
        level_duration(pin, 0, DHT22_EDGE_TIMEOUT_US) < 0 ||
        level_duration(pin, 1, DHT22_EDGE_TIMEOUT_US) < 0) {
        err = ESP_ERR_TIMEOUT;
    }
    for (int bit = 0; err == ESP_OK && bit < 40; bit++) {
        int32_t low = level_duration(pin, 0, DHT22_EDGE_TIMEOUT_US);  /* ~50 us */
        int32_t high = level_duration(pin, 1, DHT22_EDGE_TIMEOUT_US); /* 26-28 us: 0, ~70 us: 1 */
        if (low < 0 || high < 0) {
            err = ESP_ERR_TIMEOUT;
            break;
        }
        data[bit / 8] = (uint8_t)((data[bit / 8] << 1) | (high > low ? 1u : 0u));
    }
    portEXIT_CRITICAL(&s_dht_mux);
    gpio_set_level(pin, 1);
    return err;
}

esp_err_t dht22_read(dht22_t *d, int64_t max_age_us)
{
    int64_t now = esp_timer_get_time();
    if (now - d->last_try_us >= DHT22_MIN_PERIOD_US) {
        d->last_try_us = now;
        uint8_t data[5] = { 0 };
        esp_err_t err = dht22_transfer(d, data);
        if (err == ESP_OK &&
            (uint8_t)(data[0] + data[1] + data[2] + data[3]) != data[4]) {
            err = ESP_ERR_INVALID_CRC;
        }
        if (err == ESP_OK) {
            uint16_t rh = (uint16_t)((data[0] << 8) | data[1]);
            uint16_t t = (uint16_t)(((data[2] & 0x7f) << 8) | data[3]);
            d->humidity_pct = (float)rh / 10.0f;
            d->temperature_c = (float)t / 10.0f * ((data[2] & 0x80) ? -1.0f : 1.0f);
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
