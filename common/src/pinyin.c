/* Author names to pinyin (rules in paperq/pinyin.h): table lookup by binary
 * search, surname exceptions, and a small dynamic programme that splits
 * glued names at the most plausible surnames. */
#include "paperq/pinyin.h"
#include "paperq/buf.h"
#include "paperq/textutil.h"
#include "paperq/util.h"

#include <stdlib.h>
#include <string.h>

struct reading {
  const char *zh;
  const char *py;
};

/* Readings a character takes as a surname, unlike its usual one. */
static const struct reading surname_readings[] = {
    {"单", "shan"}, {"曾", "zeng"}, {"解", "xie"},   {"仇", "qiu"},   {"朴", "piao"},
    {"区", "ou"},   {"查", "zha"},  {"盖", "ge"},    {"乐", "yue"},   {"覃", "qin"},
    {"员", "yun"},  {"尉", "yu"},   {"种", "chong"}, {"黑", "he"},    {"繁", "po"},
    {"能", "nai"},  {"句", "gou"},  {"召", "shao"},  {"缪", "miao"},  {"翟", "zhai"},
    {"秘", "bi"},   {"沈", "shen"}, {"薄", "bo"},    {"万", "wan"},   {"柏", "bai"},
    {"都", "du"},   {"阚", "kan"},  {"郇", "xun"},   {"折", "she"},   {"祭", "zhai"},
    {"炅", "gui"},  {"藏", "zang"}, {"隗", "wei"},   {"长", "chang"}, {"重", "chong"},
    {"令", "ling"},
};

/* Given-name characters whose first Unihan reading is rare in names. */
static const struct reading given_readings[] = {
    {"长", "chang"},
    {"晟", "sheng"},
};

/* Two-character surnames, with their romanisation. */
static const struct reading compounds[] = {
    {"欧阳", "Ouyang"},    {"司马", "Sima"},     {"诸葛", "Zhuge"},    {"上官", "Shangguan"},
    {"东方", "Dongfang"},  {"皇甫", "Huangfu"},  {"尉迟", "Yuchi"},    {"公孙", "Gongsun"},
    {"慕容", "Murong"},    {"长孙", "Zhangsun"}, {"宇文", "Yuwen"},    {"司徒", "Situ"},
    {"夏侯", "Xiahou"},    {"令狐", "Linghu"},   {"澹台", "Tantai"},   {"万俟", "Moqi"},
    {"闻人", "Wenren"},    {"赫连", "Helian"},   {"钟离", "Zhongli"},  {"申屠", "Shentu"},
    {"轩辕", "Xuanyuan"},  {"鲜于", "Xianyu"},   {"呼延", "Huyan"},    {"端木", "Duanmu"},
    {"拓跋", "Tuoba"},     {"独孤", "Dugu"},     {"南宫", "Nangong"},  {"西门", "Ximen"},
    {"百里", "Baili"},     {"东郭", "Dongguo"},  {"公冶", "Gongye"},   {"太史", "Taishi"},
    {"司空", "Sikong"},    {"濮阳", "Puyang"},   {"淳于", "Chunyu"},   {"宗政", "Zongzheng"},
    {"第五", "Diwu"},      {"左丘", "Zuoqiu"},   {"谷梁", "Guliang"},  {"公羊", "Gongyang"},
    {"亓官", "Qiguan"},    {"司寇", "Sikou"},    {"漆雕", "Qidiao"},   {"壤驷", "Rangsi"},
    {"公良", "Gongliang"}, {"宰父", "Zaifu"},    {"微生", "Weisheng"}, {"仲孙", "Zhongsun"},
    {"叔孙", "Shusun"},    {"巫马", "Wuma"},
};

/* Surnames by frequency, for splitting glued names. Very common given-name
 * characters that are rare surnames (国, 海, 明, 平, 云, 玉, 强 ...) are left
 * out on purpose: counting them would cut "李国红" after 李. 林 is a top-30
 * surname but also a common given-name ending (晓林), so it weighs as tier B:
 * "张晓林李麟" -> Zhang Xiaolin, Li Lin. */
static const char tier_a[] = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高罗郑梁谢宋唐许韩冯邓曹";
static const char tier_b[] = "林彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾"
                             "夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃"
                             "武戴莫孔向汤";
static const char tier_c[] = "常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左"
                             "柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳"
                             "管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄"
                             "窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师仇栾隋商刁"
                             "沙巫寇桑郎甄丛仲虞敖巩佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原"
                             "栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜阚花权帅屠朴盖练廉禹井祖"
                             "漆巴丰支卿狄计索宣晋初门容敬扈晁芮普阙浦戈伏鹿薄邸雍辜羊乌裘亓邰赫"
                             "杭况宿逯隆茹诸战慕危银亢嵇哈湛宾戎勾茅於呼揭冶斯束檀衣展阴昝幸奉"
                             "衡富尧郗郦邴桓员";

#define SCORE_TIER_A 12
#define SCORE_TIER_B 10
#define SCORE_TIER_C 5
#define SCORE_COMPOUND 14
#define SCORE_THREE 1     /* 3-character names are the most common */
#define SCORE_FRAGMENT -6 /* a lone character: a name cut at a line end */
#define MAX_RUN 512       /* Han characters in one glued run */

int pq_pinyin_syllable(uint32_t cp, const char **out) {
  size_t lo = 0, hi = pq_pinyin_table_len;
  if (!out)
    return PQ_ERR;
  *out = NULL;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (pq_pinyin_table[mid].cp < cp)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < pq_pinyin_table_len && pq_pinyin_table[lo].cp == cp &&
      pq_pinyin_table[lo].syllable < pq_pinyin_n_syllables) {
    *out = pq_pinyin_syllables[pq_pinyin_table[lo].syllable];
    return PQ_OK;
  }
  return PQ_ERR;
}

static int is_han(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x323AF) || (cp >= 0xF900 && cp <= 0xFAFF) || cp == 0x3007;
}

/* Separators between people (besides whitespace). */
static int is_sep(uint32_t cp) {
  return pq_text_is_space(cp) || cp == ',' || cp == ';' || cp == '/' || cp == 0xFF0C ||
         cp == 0x3001 || cp == 0xFF1B || cp == 0xFF0F;
}

static size_t encode(uint32_t cp, char out[5]) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    out[1] = '\0';
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    out[2] = '\0';
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    out[3] = '\0';
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  out[4] = '\0';
  return 4;
}

static const char *lookup(const struct reading *t, size_t n, uint32_t a, uint32_t b) {
  char key[10];
  size_t k, l = encode(a, key);
  if (b)
    encode(b, key + l);
  for (k = 0; k < n; k++)
    if (strcmp(t[k].zh, key) == 0)
      return t[k].py;
  return NULL;
}

#define N_OF(t) (sizeof t / sizeof t[0])

static int surname_score(uint32_t cp) {
  char key[5];
  encode(cp, key);
  if (cp < 0x80)
    return 0;
  if (strstr(tier_a, key))
    return SCORE_TIER_A;
  if (strstr(tier_b, key))
    return SCORE_TIER_B;
  if (strstr(tier_c, key))
    return SCORE_TIER_C;
  return 0;
}

static int is_compound(const uint32_t *c, size_t n) {
  return n >= 2 && lookup(compounds, N_OF(compounds), c[0], c[1]) != NULL;
}

/* Appends one syllable, or the character itself when it has no reading.
 * `first` capitalises; a later syllable starting with a vowel a/o/e gets an
 * apostrophe so the boundary stays readable (Xi'an). */
static int put_syllable(struct pq_buf *b, uint32_t cp, const char *given_override, int first,
                        int *prev_was_py) {
  const char *py = given_override;
  char tmp[5];
  int rc;
  if (!py && pq_pinyin_syllable(cp, &py) != PQ_OK)
    py = NULL;
  if (!py) {
    encode(cp, tmp);
    *prev_was_py = 0;
    return pq_buf_append_str(b, tmp);
  }
  if (!first && *prev_was_py && (py[0] == 'a' || py[0] == 'o' || py[0] == 'e')) {
    rc = pq_buf_append(b, "'", 1);
    if (rc)
      return rc;
  }
  *prev_was_py = 1;
  if (first) {
    tmp[0] = (char)(py[0] >= 'a' && py[0] <= 'z' ? py[0] - 32 : py[0]);
    rc = pq_buf_append(b, tmp, 1);
    return rc ? rc : pq_buf_append_str(b, py + 1);
  }
  return pq_buf_append_str(b, py);
}

/* One person: surname, space, given name. */
static int put_person(struct pq_buf *b, const uint32_t *c, size_t n) {
  const char *sur = NULL;
  size_t k, g = 1;
  int rc = PQ_OK, prev = 0;
  if (n >= 2 && (sur = lookup(compounds, N_OF(compounds), c[0], c[1])) != NULL) {
    rc = pq_buf_append_str(b, sur);
    g = 2;
  } else {
    rc = put_syllable(b, c[0], lookup(surname_readings, N_OF(surname_readings), c[0], 0), 1, &prev);
  }
  if (rc || g >= n)
    return rc;
  rc = pq_buf_append(b, " ", 1);
  prev = 0;
  for (k = g; k < n && !rc; k++)
    rc =
        put_syllable(b, c[k], lookup(given_readings, N_OF(given_readings), c[k], 0), k == g, &prev);
  return rc;
}

/* Splits a run of Han characters into people (see pinyin.h) and writes
 * them separated by ", ". */
static int put_run(struct pq_buf *b, const uint32_t *c, size_t n) {
  static const size_t lens[] = {3, 2, 4, 1};
  int best[MAX_RUN + 1];
  unsigned char take[MAX_RUN + 1];
  size_t cuts[MAX_RUN + 1], ncuts = 0, j, k, i;
  int rc = PQ_OK;

  if (n <= 3 || (n == 4 && is_compound(c, n)) || n > MAX_RUN)
    return put_person(b, c, n);
  best[0] = 0;
  for (j = 1; j <= n; j++) {
    best[j] = -1000000;
    take[j] = 0;
    for (k = 0; k < N_OF(lens); k++) {
      size_t len = lens[k];
      int score;
      if (len > j || best[j - len] <= -1000000)
        continue;
      i = j - len;
      if (len == 1)
        score = SCORE_FRAGMENT;
      else if (len == 4)
        score = is_compound(c + i, 2) ? SCORE_COMPOUND + SCORE_THREE : -1000000;
      else if (len == 3 && is_compound(c + i, 2))
        score = SCORE_COMPOUND + SCORE_THREE;
      else
        score = surname_score(c[i]) + (len == 3 ? SCORE_THREE : 0);
      if (score <= -1000000)
        continue;
      if (best[i] + score > best[j]) {
        best[j] = best[i] + score;
        take[j] = (unsigned char)len;
      }
    }
  }
  for (j = n; j > 0; j -= take[j])
    cuts[ncuts++] = j - take[j];
  for (k = ncuts; k > 0 && !rc; k--) {
    size_t from = cuts[k - 1], to = k > 1 ? cuts[k - 2] : n;
    if (k != ncuts)
      rc = pq_buf_append(b, ", ", 2);
    if (!rc)
      rc = put_person(b, c + from, to - from);
  }
  return rc;
}

/* A stretch of the input: a run of Han characters or anything else. */
struct piece {
  int han;
  size_t start, end; /* bytes */
  size_t ncp;        /* codepoints */
  int only_sep;      /* non-Han piece made only of separators */
};

int pq_pinyin_name(const char *name, char **out) {
  struct piece *pieces = NULL;
  uint32_t *cps = NULL;
  struct pq_buf b;
  size_t len, i, np = 0, k, start, tlen;
  int rc = PQ_OK;

  if (out)
    *out = NULL;
  if (!name || !out)
    return PQ_ERR;
  len = strlen(name);
  if (len > PQ_PINYIN_MAX_INPUT)
    return PQ_ERR_TOOBIG;
  pq_buf_init(&b, PQ_PINYIN_MAX_INPUT * 8); /* "王" (3 bytes) -> at most "Zhuang, " */
  pieces = calloc(len + 1, sizeof *pieces);
  cps = calloc(len + 1, sizeof *cps);
  if (!pieces || !cps) {
    rc = PQ_ERR_NOMEM;
    goto cleanup;
  }

  for (i = 0; i < len;) {
    uint32_t cp;
    size_t n = pq_text_decode(name + i, len - i, &cp);
    int han = is_han(cp);
    if (np == 0 || pieces[np - 1].han != han) {
      pieces[np].han = han;
      pieces[np].start = i;
      pieces[np].only_sep = 1;
      np++;
    }
    pieces[np - 1].end = i + n;
    pieces[np - 1].ncp++;
    if (!han && !is_sep(cp))
      pieces[np - 1].only_sep = 0;
    i += n;
  }

  /* "王 颖": a lone surname, blanks, then a 1-2 character given name. */
  for (k = 0; k + 2 < np; k++) {
    struct piece *a = &pieces[k], *s = &pieces[k + 1], *g = &pieces[k + 2];
    uint32_t cp;
    int blanks = 1;
    if (!a->han || a->ncp != 1 || !g->han || g->ncp > 2 || s->han)
      continue;
    for (i = s->start; i < s->end;) {
      i += pq_text_decode(name + i, s->end - i, &cp);
      if (!pq_text_is_space(cp))
        blanks = 0;
    }
    pq_text_decode(name + a->start, a->end - a->start, &cp);
    if (!blanks || (!surname_score(cp) && !lookup(surname_readings, N_OF(surname_readings), cp, 0)))
      continue;
    a->end = g->end; /* one Han piece spanning the blanks, skipped when decoding */
    a->ncp = 1 + g->ncp;
    memmove(&pieces[k + 1], &pieces[k + 3], (np - k - 3) * sizeof *pieces);
    np -= 2;
  }

  for (k = 0; k < np && !rc; k++) {
    struct piece *p = &pieces[k];
    if (p->han) {
      size_t n = 0;
      for (i = p->start; i < p->end;) {
        uint32_t cp;
        i += pq_text_decode(name + i, p->end - i, &cp);
        if (is_han(cp))
          cps[n++] = cp;
      }
      rc = put_run(&b, cps, n);
    } else if (p->only_sep && k > 0 && k + 1 < np && pieces[k - 1].han && pieces[k + 1].han) {
      rc = pq_buf_append(&b, ", ", 2);
    } else {
      rc = pq_buf_append(&b, name + p->start, p->end - p->start);
    }
  }
  if (rc)
    goto cleanup;
  pq_text_trim(b.data ? b.data : "", b.len, &start, &tlen);
  *out = malloc(tlen + 1);
  if (!*out) {
    rc = PQ_ERR_NOMEM;
    goto cleanup;
  }
  if (tlen)
    memcpy(*out, b.data + start, tlen);
  (*out)[tlen] = '\0';
cleanup:
  pq_buf_free(&b);
  free(pieces);
  free(cps);
  return rc;
}
