/* The ledger's Prometheus /metrics: the whole fleet as the database sees it,
 * served by `paperq-ledger serve` on ledger.metrics_listen. */
#ifndef PAPERQ_LEDGER_METRICS_H
#define PAPERQ_LEDGER_METRICS_H

struct pq_config;
struct ledger_metrics;

/* Starts serving when cfg->ledger.metrics_listen is set (*out NULL when it
 * is empty). Each scrape reads one snapshot through its own read-only
 * connection, on the server's thread, so serve's writes never wait for it.
 * PQ_OK, or an error already logged (bad address, port in use). */
int ledger_metrics_start(const struct pq_config *cfg, struct ledger_metrics **out);
void ledger_metrics_stop(struct ledger_metrics *m); /* accepts NULL */

#endif
