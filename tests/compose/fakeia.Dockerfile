# The Internet Archive's stand-in (tests/fake_ia/fake_ia.py, Python standard
# library only) as a container, for `producer harvest` in the compose test.
# It serves the 200 sample papers of tests/fixtures/ia_scrape_items.json.
# Build context: the repository root.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10003 fakeia
COPY tests/fake_ia/fake_ia.py /opt/fake_ia/fake_ia.py
COPY tests/fixtures/ia_scrape_items.json /opt/fake_ia/items.json
# A script, not `python3 -c "..."`: podman's Docker API splits a healthcheck's
# CMD arguments at spaces.
RUN printf '%s\n' 'import urllib.request' \
      'urllib.request.urlopen("http://127.0.0.1:8080/_stats", timeout=2).read()' \
      >/opt/fake_ia/healthcheck.py
USER fakeia
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=2s --retries=5 \
  CMD ["python3", "/opt/fake_ia/healthcheck.py"]
ENTRYPOINT ["python3", "/opt/fake_ia/fake_ia.py", "--host", "0.0.0.0", "--port", "8080", \
            "--items", "/opt/fake_ia/items.json"]
