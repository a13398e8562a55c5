/* A zh -> en glossary for the system prompt: loaded once from a TSV file
 * (translate.glossary), and for each chunk only the entries whose Chinese
 * term occurs in the chunk are sent, so the prompt stays short and the
 * terminology consistent across chunks and papers.
 *
 * File format (UTF-8): one entry per line, "zh<TAB>en"; spaces around either
 * field are trimmed; lines whose first non-blank character is '#' and blank
 * lines are ignored; CRLF is accepted. Errors name the file and the line:
 * "config/glossary.tsv:12: expected \"zh<TAB>en\" (no tab)". A line with
 * more than one tab, an empty field, invalid UTF-8, a line over 1,024 bytes
 * or a zh term given twice (even with the same English) is an error: a
 * glossary that silently picks one of two translations is worse than none.
 *
 * Matching (pq_glossary_match): entries are tried longest zh term first
 * (then in file order); an entry is selected when its term occurs somewhere
 * in the text not already covered by a longer selected term, so "深度学习"
 * in the text does not also pull in "学习" unless "学习" also occurs on its
 * own. Each entry at most once, at most `max` entries. */
#ifndef PAPERQ_GLOSSARY_H
#define PAPERQ_GLOSSARY_H

#include <stddef.h>

#define PQ_GLOSSARY_MAX_FILE (1u << 20) /* bytes */
#define PQ_GLOSSARY_MAX_ENTRIES 20000
#define PQ_GLOSSARY_MAX_LINE 1024        /* bytes per line */
#define PQ_GLOSSARY_MAX_TEXT (16u << 20) /* bytes of text to match against */

struct pq_glossary; /* opaque */

struct pq_glossary_entry {
  const char *zh; /* borrowed from the glossary: valid until pq_glossary_free */
  const char *en;
  size_t line; /* 1-based line in the file */
};

/* Loads a glossary file. Returns PQ_OK with *out (free with
 * pq_glossary_free); PQ_ERR for NULL arguments; PQ_ERR_IO when the file
 * cannot be read; PQ_ERR_PARSE for a bad line; PQ_ERR_TOOBIG over the
 * limits above; PQ_ERR_NOMEM. On error *out is NULL and err (if errlen > 0)
 * holds "PATH:LINE: reason" or "PATH: reason". */
int pq_glossary_load(const char *path, struct pq_glossary **out, char *err, size_t errlen);

/* The same from memory: `name` is used in messages only. */
int pq_glossary_parse(const char *text, size_t len, const char *name, struct pq_glossary **out,
                      char *err, size_t errlen);

void pq_glossary_free(struct pq_glossary *g);

size_t pq_glossary_count(const struct pq_glossary *g);

/* Selects the entries for `text` (rules above) into out[0..max), in match
 * order (longest first). *n_out receives how many. Returns PQ_OK; PQ_ERR for
 * NULL arguments; PQ_ERR_TOOBIG when text exceeds PQ_GLOSSARY_MAX_TEXT;
 * PQ_ERR_NOMEM. A NULL glossary matches nothing (PQ_OK, *n_out = 0). */
int pq_glossary_match(const struct pq_glossary *g, const char *text,
                      const struct pq_glossary_entry **out, size_t max, size_t *n_out);

/* Convenience for the system prompt: "Glossary (use these English terms):\n"
 * followed by one "- zh: en" line per selected entry, or "" when nothing
 * matches. Returns PQ_OK with *out malloc'd (caller frees), or an error as
 * pq_glossary_match. */
int pq_glossary_prompt(const struct pq_glossary *g, const char *text, size_t max, char **out);

#endif
