/* `make size`: the node's whole state is one edge_node_t that a port keeps
 * in static RAM; this object's .bss is exactly its size on rv32imc. */
#include "edge_node.h"

edge_node_t edge_size_probe_node;
