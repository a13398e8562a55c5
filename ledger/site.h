/* `paperq-ledger export --site DIR`: the static site (docs/site.md). */
#ifndef PAPERQ_LEDGER_SITE_H
#define PAPERQ_LEDGER_SITE_H

struct pq_config;

/* Writes DIR/index.html, DIR/papers/<paper>.html, DIR/data/<paper>.json
 * (the export), and DIR/assets/ (paperq.js and .css, papers.js with the
 * search data, KaTeX and MiniSearch copied from site.assets_dir when they
 * are there). Returns a PQ_EXIT_* code (enum pq_exit); errors are printed. */
int ledger_site(const struct pq_config *cfg, const char *dir);

#endif
