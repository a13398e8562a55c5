# The tests' fake OpenAI chat-completions server (tests/fake_llm/fake_llm.py,
# Python standard library only) as a container, standing in for the LLM
# provider in the compose test. Build context: the repository root.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10002 fakellm
COPY tests/fake_llm/fake_llm.py /opt/fake_llm/fake_llm.py
# A script, not `python3 -c "..."`: podman's Docker API splits a healthcheck's
# CMD arguments at spaces.
RUN printf '%s\n' 'import urllib.request' \
      'urllib.request.urlopen("http://127.0.0.1:8080/_stats", timeout=2).read()' \
      >/opt/fake_llm/healthcheck.py
USER fakellm
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=2s --retries=5 \
  CMD ["python3", "/opt/fake_llm/healthcheck.py"]
ENTRYPOINT ["python3", "/opt/fake_llm/fake_llm.py", "--host", "0.0.0.0", "--port", "8080"]
