// A small program against the client generated from openapi/openapi.json. It is compiled (never
// run) by scripts/contract.sh: if the spec stops describing what a dashboard needs, this fails.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/haki";

type Case = components["schemas"]["Case"];
type Problem = components["schemas"]["Problem"];
type ErrorCode = components["schemas"]["ErrorCode"];

type SessionTokens = components["schemas"]["SessionTokens"];
type MfaStep = components["schemas"]["MfaStep"];

export async function walkthrough(
  baseUrl: string,
  email: string,
  password: string,
  authenticatorCode: (step: MfaStep) => Promise<string>,
): Promise<void> {
  const api = createClient<paths>({ baseUrl });

  // Log in; an account with a second factor answers a challenge first.
  const login = await api.POST("/api/v1/auth/login", { body: { email, password } });
  if (login.error) {
    report(login.error);
    return;
  }
  let tokens: SessionTokens;
  if ("challenge" in login.data) {
    const challenge: string = login.data.challenge;
    const verified = await api.POST("/api/v1/auth/mfa", {
      body: { challenge, code: await authenticatorCode(login.data.mfa_required) },
    });
    if (verified.error) {
      report(verified.error);
      return;
    }
    tokens = verified.data;
  } else {
    tokens = login.data;
  }
  const token: string = tokens.access_token;
  const expiresIn: number = tokens.expires_in;
  const refreshToken: string | null = tokens.refresh_token;
  if (refreshToken !== null) {
    const renewed = await api.POST("/api/v1/auth/refresh", { body: { refresh_token: refreshToken } });
    if (renewed.data) console.log(`renewed, idle limit ${renewed.data.refresh_expires_in}s`);
  }
  const headers = { Authorization: `Bearer ${token}` };
  console.log(`token valid for ${expiresIn}s`);

  // A filtered page of cases, then the next page by its cursor.
  const first = await api.GET("/api/v1/cases", {
    params: { query: { county: "kilifi", stage: "investigation", limit: 20 } },
    headers,
  });
  if (first.error) {
    report(first.error);
    return;
  }
  const cases: Case[] = first.data.data;
  const cursor: string | null = first.data.next_cursor;
  if (cursor !== null) {
    const next = await api.GET("/api/v1/cases", {
      params: { query: { county: "kilifi", stage: "investigation", limit: 20, cursor } },
      headers,
    });
    if (next.data) cases.push(...next.data.data);
  }
  const firstCase = cases[0];
  if (firstCase === undefined) return;

  // One case and its ETag; its derived facts are always present.
  const one = await api.GET("/api/v1/cases/{id}", { params: { path: { id: firstCase.id } }, headers });
  if (one.error) {
    report(one.error);
    return;
  }
  const etag = one.response.headers.get("ETag") ?? `"${one.data.version}"`;
  const stalled: boolean = one.data.facts.stalled;
  const reference: string = one.data.reference;
  const summary: string | null = one.data.summary;
  console.log(reference, stalled, summary ?? "(no summary)");

  // Change it, guarded by the ETag read.
  const patched = await api.PATCH("/api/v1/cases/{id}", {
    params: { path: { id: firstCase.id }, header: { "If-Match": etag } },
    body: { risk_level: "high" },
    headers,
  });
  if (patched.error) {
    report(patched.error);
    return;
  }
  console.log(`now at version ${patched.data.version}`);
}

// Every error is a Problem with a known code and the fields at fault.
function report(problem: Problem): void {
  const code: ErrorCode = problem.code;
  const stale: boolean = code === "stale_version" || code === "precondition_required";
  console.error(`${problem.status} ${code} ${problem.detail} (request ${problem.request_id})${stale ? " — read again" : ""}`);
  for (const e of problem.errors) console.error(`  ${e.field}: ${e.code} — ${e.message}`);
}
