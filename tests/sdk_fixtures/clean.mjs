// The SDK-shaped test module with no defect.
import { build } from './sdk.mjs';

export const { FinetuneLabClient, FinetuneLabError } = build([]);
