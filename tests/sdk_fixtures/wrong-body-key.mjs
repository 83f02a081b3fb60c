// The SDK-shaped test module with the defect wrong-body-key.
import { build } from './sdk.mjs';

export const { FinetuneLabClient, FinetuneLabError } = build(['wrong-body-key']);
