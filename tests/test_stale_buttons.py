"""A press counts only for the question its buttons belong to (flows/questions.py).

What a person would notice if this broke: a double tap on "No" answering the next question
too, one they never saw; an old "Yes" further up the chat confirming a deletion. On SQLite and
PostgreSQL (the `db` fixture).
"""

from __future__ import annotations

from flows.types import Kind
from tests.support.chat import PARENT_JOURNEY, Chat, play

EARLIER = "That button belongs to an earlier question"
# PARENT_JOURNEY[14] and [15] are two questions in a row both answered "no".
FIRST_NO = 14


async def at_first_of_two_no_questions(db) -> Chat:
    chat = Chat(db)
    await play(chat, PARENT_JOURNEY[:FIRST_NO])
    assert PARENT_JOURNEY[FIRST_NO] == PARENT_JOURNEY[FIRST_NO + 1] == ("click", "no")
    return chat


async def test_a_double_tap_answers_only_the_question_it_was_on(db) -> None:
    chat = await at_first_of_two_no_questions(db)
    first = chat.last
    assert first is not None and first.question
    [second] = await chat.click("no")
    assert second.question and second.question != first.question
    assert "no" in [c.id for c in second.choices]
    before = (await chat.conversation()).state  # type: ignore[union-attr]
    # The same button again, as Telegram sends a second tap.
    replies = await chat.send(chat._msg(Kind.CHOICE, choice="no", question=first.question))
    assert EARLIER in replies[-1].text
    assert second.text in replies[-1].text  # the current question, asked again
    assert replies[-1].question == second.question
    after = (await chat.conversation()).state  # type: ignore[union-attr]
    assert after["pos"] == before["pos"] and after["answers"] == before["answers"]
    # Its own buttons still answer it.
    [third] = await chat.click("no")
    assert third.question not in (first.question, second.question)


async def test_a_press_without_its_question_is_taken_as_before(db) -> None:
    # Buttons sent before questions were labelled, or a channel that doesn't send them back.
    chat = await at_first_of_two_no_questions(db)
    first = chat.last
    await chat.send(chat._msg(Kind.CHOICE, choice="no"))
    assert chat.last is not None and chat.last.question != first.question  # moved on


async def test_an_old_yes_does_not_confirm_a_deletion(db) -> None:
    chat = await at_first_of_two_no_questions(db)
    old = chat.last
    [confirm] = await chat.command("delete")
    assert confirm.question and "yes" in [c.id for c in confirm.choices]
    replies = await chat.send(chat._msg(Kind.CHOICE, choice="yes", question=old.question))
    assert await chat.conversation() is not None  # nothing deleted
    assert EARLIER in replies[0].text
    assert replies[-1].text == confirm.text and replies[-1].question == confirm.question
    await chat.click("yes")  # the confirmation's own button
    assert await chat.conversation() is None


async def test_a_command_button_works_whatever_question_it_came_with(db) -> None:
    chat = await at_first_of_two_no_questions(db)
    replies = await chat.send(chat._msg(Kind.CHOICE, choice="cmd:help", question="0ld"))
    assert all(EARLIER not in r.text for r in replies)


def test_telegram_buttons_carry_their_question_within_telegrams_limit() -> None:
    from bot.telegram_callback import CALLBACK_LIMIT, callback_data, parse_callback

    assert parse_callback(callback_data("no", "3f2a9c1")) == ("no", "3f2a9c1")
    assert parse_callback("no") == ("no", "")  # a button sent before questions were labelled
    long_id = "x" * 60  # no room for the question: the choice alone, taken as before
    assert callback_data(long_id, "3f2a9c1") == long_id
    assert len(callback_data("y" * 80, "").encode()) <= CALLBACK_LIMIT
