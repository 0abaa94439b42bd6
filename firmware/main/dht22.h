/* DHT22 / AM2302 single-wire read through the RMT receiver: the host's start
 * signal is a plain GPIO level, the sensor's answer is captured by the RMT
 * peripheral, and edge_dht22_decode() (edge_core) turns the captured pulses
 * into a reading. No interrupts are masked, so Wi-Fi on the same core is
 * never held off. The pin is open drain with the internal pull-up (a
 * 4.7-10 kOhm external pull-up is better on real wiring). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "driver/gpio.h"
#include "driver/rmt_rx.h"
#include "esp_err.h"
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"

typedef struct {
    gpio_num_t pin;
    rmt_channel_handle_t rx;
    QueueHandle_t done;    /* rmt_rx_done_event_data_t from the RMT ISR */
    int64_t last_try_us;   /* esp_timer time of the last attempt */
    int64_t last_ok_us;    /* ... and of the last good reading */
    float temperature_c;
    float humidity_pct;
    uint32_t errors;
} dht22_t;

esp_err_t dht22_init(dht22_t *d, gpio_num_t pin);

/* Reads the sensor if the last attempt is at least 2 s old (the DHT22's
 * minimum period), else keeps the cached values. Returns ESP_OK when the
 * cached values are at most max_age_us old, ESP_ERR_TIMEOUT (no answer),
 * ESP_ERR_INVALID_CRC (checksum), ESP_ERR_INVALID_RESPONSE (truncated),
 * ESP_ERR_INVALID_STATE (never read). */
esp_err_t dht22_read(dht22_t *d, int64_t max_age_us);
