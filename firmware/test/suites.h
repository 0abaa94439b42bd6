/* Test suites, one per module; test_main.c runs them all. */
#ifndef SUITES_H
#define SUITES_H

void suite_vectors(void);
void suite_decode_vectors(void);
void suite_codec(void);
void suite_modules(void);
void suite_node(void);
void suite_dht22(void);

#endif
