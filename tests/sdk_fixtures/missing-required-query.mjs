// The SDK-shaped test module with the defect missing-required-query.
import { build } from './sdk.mjs';

export const { FinetuneLabClient, FinetuneLabError } = build(['missing-required-query']);
