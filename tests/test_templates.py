import pytest

from ftstudio.models import load_tokenizer
from ftstudio.templates import Template, TemplateError, check, render, token_lengths, token_preview

EXAMPLE = {"input": "Write about dashboards", "output": "Nobody reads them.", "label": None}


def test_presets_render_prompt_and_completion(tiny_model_dir, tmp_path):
    tokenizer = load_tokenizer(str(tiny_model_dir), tmp_path)
    chat = render(Template("chat", system="Be brief."), EXAMPLE, tokenizer)
    assert chat.prompt.endswith("<|im_start|>assistant\n") and "Be brief." in chat.prompt
    assert chat.completion.startswith("Nobody reads them.")
    inst = render(Template("instruction", system="Be brief."), EXAMPLE, tokenizer)
    assert inst.prompt == "[INST] Be brief.\n\nWrite about dashboards [/INST]"
    assert inst.completion == " Nobody reads them." + tokenizer.eos_token
    alpaca = render(Template("alpaca"), EXAMPLE)
    assert "### Instruction:\nWrite about dashboards" in alpaca.prompt and alpaca.completion == "Nobody reads them."


def test_custom_templates_run_sandboxed():
    custom = Template("custom", prompt="Q: {{ input | upper }}\nA:", completion=" {{ output }}")
    assert render(custom, EXAMPLE).prompt == "Q: WRITE ABOUT DASHBOARDS\nA:"
    for attack in ("{{ ''.__class__.__mro__ }}", "{{ input.__class__.__base__.__subclasses__() }}",
                   "{{ cycler.__init__.__globals__.os.popen('id').read() }}"):
        with pytest.raises(TemplateError, match="unsafe|unknown field"):
            render(Template("custom", prompt=attack), EXAMPLE)
    with pytest.raises(TemplateError, match="syntax error on line 1"):
        check(Template("custom", prompt="{{ input "))
    with pytest.raises(TemplateError, match="unknown field"):
        check(Template("custom", prompt="{{ author }}"))
    with pytest.raises(TemplateError, match="needs a prompt"):
        check(Template("custom", prompt="  "))


def test_token_preview_marks_only_the_completion_as_trained(tiny_model_dir, tmp_path):
    tokenizer = load_tokenizer(str(tiny_model_dir), tmp_path)
    preview = token_preview(Template("chat"), EXAMPLE, tokenizer)
    trained = "".join(text for text, is_trained in preview.tokens if is_trained)
    untrained = "".join(text for text, is_trained in preview.tokens if not is_trained)
    assert trained.startswith("Nobody reads them.") and "Write about dashboards" in untrained
    assert preview.total == len(preview.tokens) and preview.completion_tokens > 0
    assert all(t for _, t in token_preview(Template("chat"), EXAMPLE, tokenizer, completion_only=False).tokens)
    lengths = token_lengths(Template("chat"), [EXAMPLE, {**EXAMPLE, "output": "word " * 50}], tokenizer)
    assert lengths[1] > lengths[0] + 40


def test_an_empty_system_prompt_sends_none_even_where_the_template_has_a_default(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = (  # like SmolLM2's: a default system prompt when the conversation has none
        "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are a helpful AI assistant named "
        "SmolLM<|im_end|>\n{% endif %}{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
        "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    plain = render(Template("chat"), {"input": "Hi", "output": "Hello"}, tokenizer)
    assert "SmolLM" not in plain.prompt and plain.prompt.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    chosen = render(Template("chat", system="Be brief."), {"input": "Hi", "output": "Hello"}, tokenizer)
    assert chosen.prompt.startswith("<|im_start|>system\nBe brief.<|im_end|>")


def test_emoji_show_whole_in_the_token_preview(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    shown = token_preview(Template("instruction"), {"input": "Launch day 🎉", "output": "Ship it 🚀"}, tokenizer)
    texts = [text for text, _ in shown.tokens]
    assert not any("\ufffd" in text for text in texts)
    assert "".join(texts).count("🎉") == 1 and "".join(texts).count("🚀") == 1
