#!/usr/bin/env bash
# Streaming chat completion through the bridge with curl.
curl -sN http://127.0.0.1:9090/v1/chat/completions \
  -H 'Content-Type: application/json' \
  -d '{"model": "llama3.1", "stream": true,
       "messages": [{"role": "user", "content": "What files are in /tmp?"}]}'
