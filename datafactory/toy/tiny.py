"""Build a tiny, randomly initialised chat model on the spot.

Why: tests and smoke runs need a real model that vLLM (CPU and GPU), `vllm serve` and transformers can load,
without any download. Its weights are random, so its text is gibberish; it exercises the machinery, not quality.
The shape follows what vLLM on CPU accepts (head_dim 32; docs/outputs.md, "The toy reasoner").
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_CORPUS = [
    "What is 12 plus 30? Let me think step by step. 12 + 30 = 42. The answer is \\boxed{42}.",
    "<think> First add the numbers, then check the result. </think> The answer is 7.",
    "Hello! How can I help you today? Tell me about prime numbers and even numbers.",
    "A train travels 60 km in 1 hour. How far does it travel in 3 hours? 180 km.",
    "Solve for x: 2x + 3 = 11. Subtract 3, divide by 2, so x = 4.",
]


def build_tiny_model(path: str | Path, vocab_size: int = 512, seed: int = 0) -> Path:
    """Write a tiny Qwen2 model, BPE tokenizer and ChatML template to `path` and return it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_CORPUS * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(path)

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(fast),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        eos_token_id=fast.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=fast.convert_tokens_to_ids("<|endoftext|>"),
        bos_token_id=None,
        torch_dtype="float32",
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    model.save_pretrained(path, safe_serialization=True)
    return path


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python -m datafactory.toy.tiny OUTPUT_DIR")
    print(build_tiny_model(sys.argv[1]))
