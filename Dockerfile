FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
RUN cargo build --release --locked

FROM debian:bookworm-slim
# postgresql-client-15: pg_dump/pg_restore for `haki backup` and `haki restore` (the server's major version).
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates postgresql-client-15 && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 haki \
    && mkdir -p /var/lib/haki/documents && chown -R haki /var/lib/haki
COPY --from=build /src/target/release/haki /usr/local/bin/haki
USER haki
ENV HAKI_BIND=0.0.0.0:8080 HAKI_DOCUMENT_STORE=/var/lib/haki/documents
EXPOSE 8080
ENTRYPOINT ["haki"]
CMD ["serve"]
