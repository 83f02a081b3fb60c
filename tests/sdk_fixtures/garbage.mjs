// The SDK-shaped test module with the defect garbage.
import { build } from './sdk.mjs';

export const { FinetuneLabClient, FinetuneLabError } = build(['garbage']);
