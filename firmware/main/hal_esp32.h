/* ESP-IDF implementation of edge_hal.h, plus the few hooks app_main.c needs
 * to feed it (MQTT client, connection state, time sync) and to read the
 * local inputs (UART bytes, pushbutton) and drive the status LED.
 * All functions are for the node task unless noted. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp_err.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "sdkconfig.h"
#include "edge_hal.h"

#if CONFIG_EDGE_TRANSPORT_MQTT
#include "mqtt_client.h"
#endif

/* Sensor indexes, in the order of hal_esp32_sensor_names(). */
enum {
    HAL_SENSOR_TEMPERATURE = 0,
    HAL_SENSOR_HUMIDITY,
    HAL_SENSOR_POTENTIOMETER,
    HAL_SENSOR_COUNT
};

/* Opens NVS namespace "edge" (nvs_flash_init() must have run), sets up the
 * DHT22, ADC, LED, button and, for the UART transport, the UART driver.
 * A sensor that fails to initialise is logged and then reads as absent. */
esp_err_t hal_esp32_init(void);
const edge_hal_t *hal_esp32(void);
const char *const *hal_esp32_sensor_names(void);

#if CONFIG_EDGE_TRANSPORT_MQTT
void hal_esp32_set_mqtt_client(esp_mqtt_client_handle_t client);
void hal_esp32_set_mqtt_up(bool up);
#endif
/* Any task (the SNTP callback runs in the lwIP task). */
void hal_esp32_set_time_synced(bool synced);

#if CONFIG_EDGE_TRANSPORT_UART
/* Bytes received so far (non-blocking); 0 when none. */
size_t hal_esp32_uart_read(uint8_t *buf, size_t cap);
/* Sets `bits` in `task`'s notification value whenever UART data arrives. */
esp_err_t hal_esp32_uart_notify(TaskHandle_t task, uint32_t bits);
#endif

/* True once per press (debounced, active low). Call after each button
 * notification, and again soon while hal_esp32_button_settling(). */
bool hal_esp32_button_pressed(void);
bool hal_esp32_button_settling(void);
/* Sets `bits` in `task`'s notification value on every button edge (GPIO
 * interrupt), so the node task sleeps until the button moves. */
esp_err_t hal_esp32_button_notify(TaskHandle_t task, uint32_t bits);
void hal_esp32_led(bool on);
