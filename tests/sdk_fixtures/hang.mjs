// The SDK-shaped test module with the defect hang.
import { build } from './sdk.mjs';

export const { FinetuneLabClient, FinetuneLabError } = build(['hang']);
