/* Author names to pinyin, without an LLM call: deterministic, free, and the
 * way Chinese authors write their names in English ("王颖" -> "Wang Ying",
 * "张智雄" -> "Zhang Zhixiong", "欧阳修" -> "Ouyang Xiu").
 *
 * Readings come from Unihan's kMandarin field (first, most customary
 * reading), generated into pinyin_table.c by scripts/gen_pinyin.py, without
 * tones; ü is written u (吕 -> Lu, as names usually are in papers, not Lv or
 * Lyu). Surnames whose reading differs from the character's usual one
 * (单 Shan, 曾 Zeng, 解 Xie, 仇 Qiu, 朴 Piao, 区 Ou, 查 Zha, 盖 Ge, 乐 Yue,
 * 覃 Qin, 员 Yun, 尉 Yu, 翟 Zhai, 缪 Miao, ...) and compound surnames (欧阳,
 * 司马, 诸葛, 上官, 东方, 皇甫, 尉迟, 公孙, 慕容, 长孙, 宇文, 司徒, 夏侯, 令狐,
 * ...) have their own table; a few given-name characters too (长 Chang).
 *
 * Name format: surname, one space, given name as one capitalised word
 * (syllables joined; an apostrophe before a syllable starting with a, o or e:
 * 张西安 -> "Zhang Xi'an"). Several people in one field are separated by
 * ", ".
 *
 * Splitting an author field (pq_pinyin_name):
 *   - Separators between people: whitespace, ，,、;；/ and the like. A
 *     single surname character followed by whitespace and a 1-2 character
 *     name ("王 颖") is one person.
 *   - Text that is not Han (Latin names, digits, ①, ）...) is kept as is, so
 *     "Xie YF" stays "Xie YF" and "史灵卫①" becomes "Shi Lingwei①". A Han
 *     character without a reading is kept as is too.
 *   - A run of Han characters longer than 3 (4 unless it starts with a
 *     compound surname) is taken to be several glued names (the PDF lost
 *     the spaces: "王颖张智雄") and is split into names of 2-3 characters (4
 *     with a compound surname) choosing the split that starts the most names
 *     with a known surname, common surnames weighing more, with a slight
 *     preference for 3-character names and a penalty for a 1-character
 *     fragment (a name cut at a line end). "王颖张智雄" -> "Wang Ying, Zhang
 *     Zhixiong"; "王文华刘波" -> "Wang Wenhua, Liu Bo". It is a heuristic: a
 *     wrong split still reads as pinyin, never as Chinese. */
#ifndef PAPERQ_PINYIN_H
#define PAPERQ_PINYIN_H

#include <stddef.h>
#include <stdint.h>

#define PQ_PINYIN_MAX_INPUT 4096 /* bytes of one author field */

/* Romanises one author field (NUL-terminated UTF-8; invalid bytes are kept).
 * Returns PQ_OK with *out malloc'd (caller frees; "" for an empty field);
 * PQ_ERR for NULL arguments; PQ_ERR_TOOBIG over PQ_PINYIN_MAX_INPUT;
 * PQ_ERR_NOMEM. */
int pq_pinyin_name(const char *name, char **out);

/* The toneless reading of one character, e.g. 0x738B -> "wang" (borrowed,
 * static). PQ_OK, or PQ_ERR when Unihan has no Mandarin reading for cp. */
int pq_pinyin_syllable(uint32_t cp, const char **out);

/* ---- the generated table (pinyin_table.c); internal to pinyin.c --------- */
struct pq_pinyin_entry {
  uint32_t cp;       /* codepoint, ascending */
  uint16_t syllable; /* index into pq_pinyin_syllables */
};
extern const char *const pq_pinyin_syllables[];
extern const size_t pq_pinyin_n_syllables;
extern const struct pq_pinyin_entry pq_pinyin_table[];
extern const size_t pq_pinyin_table_len;

#endif
