// The SDK-shaped test module with the defect crash.
import { build } from './sdk.mjs';

export const { FinetuneLabClient, FinetuneLabError } = build(['crash']);
