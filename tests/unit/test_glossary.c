/* Glossary: file errors named by file and line, comments/blank lines/CRLF,
 * longest-first selection without duplicates or covered sub-terms, the cap,
 * the prompt text, and the shipped config/glossary.tsv. */
#include "paperq/glossary.h"
#include "paperq/util.h"
#include "pq_test.h"

#include <stdlib.h>
#include <unistd.h>

static int parse_err(const char *text, char *err, size_t errlen) {
  struct pq_glossary *g = NULL;
  int rc = pq_glossary_parse(text, strlen(text), "g.tsv", &g, err, errlen);
  if (rc == PQ_OK)
    pq_glossary_free(g);
  else
    CHECK(g == NULL);
  return rc;
}

static void test_errors(void) {
  char err[256];
  CHECK(parse_err("摘要\tabstract\n模型 model\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK_STR(err, "g.tsv:2: expected \"zh<TAB>en\" (no tab)");
  CHECK(parse_err("# c\n\n摘要\tabstract\textra\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK_STR(err, "g.tsv:3: expected \"zh<TAB>en\" (more than one tab)");
  CHECK(parse_err("摘要\t  \n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK_STR(err, "g.tsv:1: empty English term");
  CHECK(parse_err("\tabstract\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK_STR(err, "g.tsv:1: empty Chinese term");
  CHECK(parse_err("模型\tmodel\n算法\talgorithm\n模型\tmodels\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK_STR(err, "g.tsv:3: duplicate term \"模型\" (first on line 1)");
  CHECK(parse_err("a\tb\n\xff\xfe\tx\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK_STR(err, "g.tsv:2: invalid UTF-8");
  {
    char longline[PQ_GLOSSARY_MAX_LINE + 64];
    memset(longline, 'x', sizeof longline - 1);
    longline[5] = '\t';
    longline[sizeof longline - 1] = '\0';
    CHECK(parse_err(longline, err, sizeof err) == PQ_ERR_PARSE);
    CHECK(strstr(err, "g.tsv:1: line too long") == err);
  }
  /* a tiny error buffer truncates, never overflows */
  {
    char small[8];
    CHECK(parse_err("bad line\n", small, sizeof small) == PQ_ERR_PARSE);
    CHECK(strlen(small) == 7);
  }
  /* missing file */
  {
    struct pq_glossary *g = (struct pq_glossary *)err;
    CHECK(pq_glossary_load("/nonexistent/glossary.tsv", &g, err, sizeof err) == PQ_ERR_IO);
    CHECK(g == NULL);
    CHECK(strstr(err, "/nonexistent/glossary.tsv: cannot read") == err);
  }
  CHECK(pq_glossary_parse(NULL, 0, "x", NULL, err, sizeof err) == PQ_ERR);
}

static void test_parse_ok(void) {
  char err[256];
  struct pq_glossary *g = NULL;
  const char *text =
      "# comment\r\n"
      "\r\n"
      "   # indented comment\n"
      "  深度学习 \t deep learning \r\n"
      "学习\tlearning\n"
      "模型\tmodel\n"
      "C#\tC sharp\n"                                 /* '#' inside a term is not a comment */
      "\xe3\x80\x80遥感\xe3\x80\x80\tremote sensing"; /* U+3000 trimmed, no final newline */
  CHECK(pq_glossary_parse(text, strlen(text), "g.tsv", &g, err, sizeof err) == PQ_OK);
  CHECK_STR(err, "");
  CHECK(pq_glossary_count(g) == 5);
  {
    const struct pq_glossary_entry *sel[8];
    size_t n = 0;
    CHECK(pq_glossary_match(g, "基于深度学习的遥感模型", sel, 8, &n) == PQ_OK);
    CHECK(n == 3);
    if (n == 3) {
      CHECK_STR(sel[0]->zh, "深度学习"); /* longest first */
      CHECK_STR(sel[0]->en, "deep learning");
      CHECK(sel[0]->line == 4);
      CHECK_STR(sel[1]->zh, "模型"); /* same length: file order */
      CHECK_STR(sel[2]->zh, "遥感");
    }
    /* 学习 on its own elsewhere: now it counts too */
    CHECK(pq_glossary_match(g, "深度学习与学习理论", sel, 8, &n) == PQ_OK && n == 2);
    /* a term occurring many times is listed once */
    CHECK(pq_glossary_match(g, "模型模型模型", sel, 8, &n) == PQ_OK && n == 1);
    /* the cap */
    CHECK(pq_glossary_match(g, "基于深度学习的遥感模型", sel, 2, &n) == PQ_OK && n == 2);
    CHECK(pq_glossary_match(g, "无关内容", sel, 8, &n) == PQ_OK && n == 0);
    CHECK(pq_glossary_match(g, "", sel, 8, &n) == PQ_OK && n == 0);
    CHECK(pq_glossary_match(NULL, "模型", sel, 8, &n) == PQ_OK && n == 0);
    CHECK(pq_glossary_match(g, NULL, sel, 8, &n) == PQ_ERR);
  }
  {
    char *p = NULL;
    CHECK(pq_glossary_prompt(g, "用C#实现的深度学习模型", 10, &p) == PQ_OK);
    CHECK_STR(p, "Glossary (use these English terms):\n- 深度学习: deep learning\n- 模型: model\n"
                 "- C#: C sharp\n");
    free(p);
    p = NULL;
    CHECK(pq_glossary_prompt(g, "无关", 10, &p) == PQ_OK);
    CHECK_STR(p, "");
    free(p);
  }
  pq_glossary_free(g);
  pq_glossary_free(NULL);

  /* an empty file is a valid, empty glossary */
  g = NULL;
  CHECK(pq_glossary_parse("", 0, "e", &g, err, sizeof err) == PQ_OK && pq_glossary_count(g) == 0);
  pq_glossary_free(g);
}

static void test_shipped(void) {
  const char *src = getenv("PQ_SOURCE_DIR");
  char path[1024], err[256];
  struct pq_glossary *g = NULL;
  const struct pq_glossary_entry *sel[16];
  size_t n = 0;
  snprintf(path, sizeof path, "%s/config/glossary.tsv", src ? src : ".");
  CHECK(pq_glossary_load(path, &g, err, sizeof err) == PQ_OK);
  if (!g) {
    fprintf(stderr, "%s\n", err);
    return;
  }
  CHECK(pq_glossary_count(g) >= 30 && pq_glossary_count(g) <= 80);
  /* a real abstract sentence (records.jsonl) */
  CHECK(pq_glossary_match(g,
                          "以黄土高原为研究区，利用遥感数据和随机森林模型分析了植被与降水的关系。",
                          sel, 16, &n) == PQ_OK);
  CHECK(n == 6);
  if (n == 6) {
    CHECK_STR(sel[0]->en, "random forest"); /* 4 characters, earlier in the file */
    CHECK_STR(sel[1]->en, "Loess Plateau");
    CHECK_STR(sel[2]->en, "model");
  }
  pq_glossary_free(g);
}

int main(void) {
  test_errors();
  test_parse_ok();
  test_shipped();
  TEST_MAIN_END();
}
