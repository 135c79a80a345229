/* vktrain — on-device training engine. Umbrella header. */
#ifndef VKTRAIN_H
#define VKTRAIN_H

#include "context.h"
#include "data.h"
#include "fed.h"
#include "graph.h"
#include "profile.h"
#include "status.h"
#include "trainer.h"
#include "secagg.h"
#include "update.h"
#include "weights.h"

#define VKTRAIN_VERSION_MAJOR 0
#define VKTRAIN_VERSION_MINOR 1
#define VKTRAIN_VERSION_PATCH 0

/* Version of the linked library, e.g. "0.1.0". */
const char *vkt_version(void);

#endif
