// The SDK-shaped test module with the defect ignored-parameter.
import { build } from './sdk.mjs';

export const { FinetuneLabClient, FinetuneLabError } = build(['ignored-parameter']);
