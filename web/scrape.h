/* SPDX-License-Identifier: MIT */
/*
 * GET /metrics. One scrape is one JSON-RPC batch to vmmd: vmm.stats,
 * vm.list and stats.get for every VM the last vm.list named (split only
 * where RPC_MAX_BATCH requires). A VM that vm.list shows for the first
 * time costs one more batch, once. Scrapes that arrive while one is in
 * flight share its answer. With vmmd away the scrape still answers 200,
 * with vmmd_up 0 and vmmweb's own figures.
 */
#pragma once

#include <event2/http.h>

struct web;
struct scraper;

int scraper_new(struct web *w, struct scraper **ret);
void scraper_free(struct scraper *s);
void scrape_handle(struct scraper *s, struct evhttp_request *req);
