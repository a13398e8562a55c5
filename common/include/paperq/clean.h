/* Cleaning the Internet Archive description of a ChinaXiv paper down to its
 * abstract. The IA `abstract` field holds the whole scraped page:
 *   "TITLE 作者： A B 提交时间： 2016-01-01 摘要: THE ABSTRACT 来自： ChinaXiv
 *    分类： … 引用： ChinaXiv:…"
 * and the original system sent all of it to the model, paying for metadata
 * and leaking it into translations.
 *
 * Markers are a field name, optional spaces (ASCII, NBSP, U+3000) and a
 * half- or full-width colon (":" or "："). Rules, in order:
 *   1. With a 摘要 marker: the abstract runs from after the first 摘要 marker
 *      to the last 来自 marker after it. Without 来自, it ends at the first
 *      of 分类 / 引用 / DOI / CSTR (trailing metadata, any case for DOI).
 *   2. Without 摘要: the title and 作者 field are dropped (everything up to
 *      and including the 作者 value, which ends at the next marker, or, when
 *      the abstract follows directly, after the run of short space-separated
 *      names), the 提交时间 value (a date/time token) is dropped, and the text
 *      ends at the first trailing marker (来自, 分类, 引用, DOI, CSTR).
 *      Without any marker the input is returned as is.
 *   3. The result is trimmed of Unicode whitespace.
 * Over the 200 entries of ia_records_sample.json this gives exactly the
 * `abstract` of the same paper in records.jsonl for all 200. */
#ifndef PAPERQ_CLEAN_H
#define PAPERQ_CLEAN_H

#define PQ_CLEAN_MAX_INPUT (4u * 1024u * 1024u) /* bytes of description accepted */

/* Extracts the abstract from an IA description (NUL-terminated, any bytes;
 * invalid UTF-8 is copied through). Returns PQ_OK with *out malloc'd (caller
 * frees; "" when nothing is left); PQ_ERR for NULL arguments; PQ_ERR_TOOBIG
 * over PQ_CLEAN_MAX_INPUT; PQ_ERR_NOMEM. */
int pq_clean_ia_abstract(const char *description, char **out);

#endif
