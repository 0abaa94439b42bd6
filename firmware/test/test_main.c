#include "harness.h"
#include "suites.h"

int main(void)
{
    suite_vectors();
    suite_decode_vectors();
    suite_codec();
    suite_modules();
    suite_node();
    suite_dht22();
    return th_summary();
}
