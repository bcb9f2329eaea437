"""Train the bundled toy reasoner: a ~1M-parameter Qwen2 on synthetic data, on CPU, with a fixed seed.

Why these settings: d_model 128, 4 layers, 4 heads (head_dim 32, which vLLM's CPU attention needs), byte-level
BPE with single-digit tokens, AdamW 3e-3 with cosine decay. Accuracy grows steeply with the number of updates
(measured here at temperature 0.8, each with its own full cosine schedule: 1,300 × 64 sequences → 3%,
2,600 × 32 → 21%, 3,800 × 32 → 22%, 4,400 × 32 → 73%, 5,000 × 32 → 67–93% between data revisions); 4,400
steps of 32 sequences (11 minutes on 2 idle cores, measured for the committed weights) land it in the band the
demo needs: wrong often enough that rejection sampling has something to reject, right
often enough to keep. Batches group sequences of similar length to save padding.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

from datafactory.toy.data import training_conversations

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MAX_LEN = 256


def build_tokenizer(conversations: list[list[dict]], vocab_size: int = 1024):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator((m["content"] for c in conversations for m in c), trainer=trainer)
    tokenizer.add_tokens(["<think>", "</think>", "\\boxed"])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def encode(tokenizer, conversation: list[dict]) -> tuple[list[int], list[int]]:
    """Token ids and labels (-100 outside the assistant's reply) of one conversation."""
    prompt = tokenizer.apply_chat_template(conversation[:-1], add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template(conversation, tokenize=False)
    prompt_ids = tokenizer.encode(prompt, add_special_tokens=False)
    ids = tokenizer.encode(full, add_special_tokens=False)[:MAX_LEN]
    labels = [-100] * len(prompt_ids) + ids[len(prompt_ids) :]
    return ids, labels[: len(ids)]


def train_toy_reasoner(
    out: str | Path, steps: int = 4400, batch: int = 32, seed: int = 0, log_every: int = 100
) -> Path:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    conversations = training_conversations(steps * batch // 2 + 5000, seed=1000 + seed)
    tokenizer = build_tokenizer(conversations)
    examples = [encode(tokenizer, c) for c in conversations]
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=512, num_hidden_layers=4,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=True,
        rope_theta=10000.0, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None, torch_dtype="float32",
    )  # fmt: skip
    model = Qwen2ForCausalLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01, betas=(0.9, 0.95))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))
    )
    rng = random.Random(seed)
    examples.sort(key=lambda e: len(e[0]))  # batches of similar lengths waste little on padding
    batches = [examples[i : i + batch] for i in range(0, len(examples) - batch + 1, batch)]
    started = time.monotonic()
    model.train()
    for step in range(steps):
        chosen = rng.choice(batches)
        width = max(len(ids) for ids, _ in chosen)
        ids = torch.full((batch, width), tokenizer.pad_token_id)
        labels = torch.full((batch, width), -100)
        mask = torch.zeros((batch, width), dtype=torch.long)
        for row, (tokens, target) in enumerate(chosen):
            ids[row, : len(tokens)] = torch.tensor(tokens)
            labels[row, : len(target)] = torch.tensor(target)
            mask[row, : len(tokens)] = 1
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        if log_every and (step % log_every == 0 or step == steps - 1):
            print(f"step {step:5d}  loss {loss.item():.3f}  {time.monotonic() - started:6.0f} s", flush=True)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out
