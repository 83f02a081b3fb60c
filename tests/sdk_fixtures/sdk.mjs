// An SDK-shaped Node module for the tests: the public surface of @finetunelab/sdk 0.6.0 (reference §12.2),
// written to follow the contract, with defects that a variant plants one at a time: build(['wrong-body-key']).
// Defects: wrong-body-key, missing-required-query, wrong-result-mapping, lost-error-message, ignored-parameter,
// and, for the runner, crash (process exit), hang (never settles) and garbage (writes to fd 1 itself).

import fs from 'node:fs';

export const DEFECTS = [
  'wrong-body-key',
  'missing-required-query',
  'wrong-result-mapping',
  'lost-error-message',
  'ignored-parameter',
  'crash',
  'hang',
  'garbage',
];
const WEEK_MS = 7 * 24 * 3600 * 1000;

export function build(defects = []) {
  for (const defect of defects) if (!DEFECTS.includes(defect)) throw new Error(`unknown defect ${defect}`);
  const has = (defect) => defects.includes(defect);

  class FinetuneLabError extends Error {
    constructor(message, statusCode = 0, details = undefined) {
      super(message);
      this.name = 'FinetuneLabError';
      this.statusCode = statusCode;
      this.details = details;
    }
  }

  function query(params) {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null) search.set(key, String(value));
    const text = search.toString();
    return text ? `?${text}` : '';
  }

  async function failure(response) {
    const text = await response.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    const error = body && typeof body === 'object' ? body.error : undefined;
    let message = typeof error === 'string' ? error : error?.message ?? (body ? JSON.stringify(body) : text);
    if (has('lost-error-message') && typeof error === 'string') message = `HTTP ${response.status}: ${response.statusText}`;
    return new FinetuneLabError(message || `HTTP ${response.status}`, response.status, body ?? text);
  }

  class FinetuneLabClient {
    constructor({ apiKey, baseUrl, timeout } = {}) {
      this.apiKey = apiKey ?? process.env.FINETUNE_LAB_API_KEY;
      if (!this.apiKey) throw new FinetuneLabError('API key required', 400);
      this.baseUrl = (baseUrl ?? process.env.FINETUNE_LAB_API_URL ?? 'https://finetunelab.ai').replace(/\/$/, '');
      this.timeout = timeout ?? 60000;
      this.batchTest = new BatchTest(this);
      this.analytics = new Analytics(this);
      this.training = new Training(this);
      this.trainingPredictions = new TrainingPredictions(this);
    }

    async request(method, endpoint, body, headers = { 'X-API-Key': this.apiKey }) {
      const sent = { ...headers };
      if (body !== undefined) sent['Content-Type'] = 'application/json';
      const response = await fetch(`${this.baseUrl}${endpoint}`, {
        method,
        headers: sent,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeout),
      });
      if (!response.ok) throw await failure(response);
      return response.json();
    }

    async predict({ model, messages, temperature, maxTokens, stream } = {}) {
      if (stream) throw new FinetuneLabError('Streaming is not supported by this SDK', 400);
      return this.request('POST', '/api/v1/predict', { model, messages, temperature, max_tokens: maxTokens, stream: false });
    }
  }

  class BatchTest {
    constructor(client) {
      this.client = client;
    }

    async run({ modelId, testSuiteId, datasetId, sourcePath, promptLimit = 25, concurrency = 3, delayMs = 1000, name } = {}) {
      if (!testSuiteId && !datasetId && !sourcePath) {
        throw new FinetuneLabError('one of testSuiteId, datasetId or sourcePath is required', 400);
      }
      const config = {
        model_id: modelId,
        test_suite_id: testSuiteId,
        dataset_id: datasetId,
        source_path: sourcePath,
        prompt_limit: promptLimit,
        concurrency,
        delay_ms: delayMs,
        test_run_name: name,
      };
      const response = await this.client.request('POST', '/api/batch-testing/run', { config });
      return {
        success: response.success,
        testId: has('wrong-result-mapping') ? response.test_id ?? '' : response.test_run_id,
        status: response.status,
        results: { totalPrompts: response.total_prompts },
      };
    }

    async status(testId) {
      const response = await this.client.request('GET', `/api/batch-testing/status/${encodeURIComponent(testId)}`);
      return {
        testId,
        status: response.status,
        totalPrompts: response.total_prompts,
        completedPrompts: response.completed_prompts,
        failedPrompts: response.failed_prompts,
        startedAt: response.started_at,
        completedAt: response.completed_at,
        error: response.error,
      };
    }

    async cancel(testId) {
      const body = has('wrong-body-key') ? { test_id: testId } : { test_run_id: testId };
      const response = await this.client.request('POST', '/api/batch-testing/cancel', body);
      return { success: response.success, testId, message: response.message };
    }
  }

  class Analytics {
    constructor(client) {
      this.client = client;
    }

    async traces({ limit, offset, conversationId, traceId } = {}) {
      const endpoint = `/api/analytics/traces${query({ limit, offset, conversation_id: conversationId, trace_id: traceId })}`;
      const response = await this.client.request('GET', endpoint);
      const { limit: size, offset: start, total } = response.pagination;
      return { traces: response.data, count: total, hasMore: start + size <= total };
    }

    async createTrace({ traceId, spanId, spanName, operationType, startTime, durationMs, modelName, metadata } = {}) {
      const response = await this.client.request('POST', '/api/analytics/traces', {
        trace_id: traceId ?? crypto.randomUUID(),
        span_id: spanId ?? crypto.randomUUID(),
        span_name: spanName,
        operation_type: operationType,
        start_time: startTime,
        duration_ms: durationMs,
        model_name: modelName,
        metadata,
      });
      return { id: response.data.id, trace: response.data };
    }

    async data({ startDate, endDate, granularity } = {}) {
      const now = new Date();
      const range = has('missing-required-query')
        ? { startDate, endDate }
        : { startDate: startDate ?? new Date(now - WEEK_MS).toISOString(), endDate: endDate ?? now.toISOString() };
      const response = await this.client.request('GET', `/api/analytics/data${query({ ...range, granularity })}`);
      return { ...response, summary: { totalTokens: response.data.aggregations.totals.tokens } };
    }
  }

  class Training {
    constructor(client) {
      this.client = client;
    }

    async createJob({ jobId, modelName, datasetPath, status = 'running', config } = {}) {
      const body = { job_id: jobId, model_name: modelName, dataset_path: datasetPath, status, config };
      return this.client.request('POST', '/api/training/local/jobs', body);
    }

    async listJobs({ limit, offset } = {}) {
      // GET /api/training/jobs ignores paging (reference §4.1): a correct SDK does not pretend otherwise.
      const endpoint = has('ignored-parameter') ? `/api/training/jobs${query({ limit, offset })}` : '/api/training/jobs';
      return this.client.request('GET', endpoint);
    }

    async getMetrics(jobId) {
      if (has('crash')) process.exit(3);
      return this.client.request('GET', `/api/training/local/${encodeURIComponent(jobId)}/metrics`);
    }

    async getLogs(jobId, { limit, offset } = {}) {
      if (has('garbage')) fs.writeSync(1, 'fetching logs...\n');
      return this.client.request('GET', `/api/training/local/${encodeURIComponent(jobId)}/logs${query({ limit, offset })}`);
    }

    async getErrors(jobId) {
      if (has('hang')) return new Promise(() => {});
      return this.client.request('GET', `/api/training/local/${encodeURIComponent(jobId)}/errors`);
    }
  }

  class TrainingPredictions {
    constructor(client) {
      this.client = client;
    }

    async get(jobId, { epoch, limit, offset } = {}) {
      return this.client.request('GET', `/api/training/predictions/${encodeURIComponent(jobId)}${query({ epoch, limit, offset })}`);
    }

    async epochs(jobId) {
      return this.client.request('GET', `/api/training/predictions/${encodeURIComponent(jobId)}/epochs`);
    }

    async trends(jobId) {
      return this.client.request('GET', `/api/training/predictions/${encodeURIComponent(jobId)}/trends`);
    }

    async create(jobId, jobToken, predictions) {
      const headers = { Authorization: `Bearer ${jobToken}` };
      return this.client.request('POST', '/api/training/local/predictions', { job_id: jobId, predictions }, headers);
    }
  }

  return { FinetuneLabClient, FinetuneLabError };
}
