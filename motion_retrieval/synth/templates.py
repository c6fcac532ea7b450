"""Caption templates: what each action family did, as third-person verb phrases with slots, in the style of
HumanML3D (``hml``) and of KIT-ML (``kit``, shorter and plainer; ``None`` = use the HumanML3D list).

Slots (filled by ``captions.py``; every template states the side, count, speed and direction its action has, except
the gaits' ``COUNT_FREE`` phrasings, which leave the number of steps out as people do, and the third of the
captions from ``{times}`` templates that ``captions`` renders without their count):

- ``{side}`` / ``{other}``: left / right (the person's own side); ``{poss}``: their / his / the ...;
- ``{times}``: once / twice / three times; ``{n:noun}``: "three steps", "one squat" (count + noun, pluralised;
  a noun that names a ``PHRASES`` table takes its words from there, e.g. ``{n:kick_noun}``);
- ``{speed}``: an adverb phrase for slow / normal / fast (may be empty for normal); ``{pace}``: slow / steady / fast;
- ``{arms}`` / ``{hand}`` / ``{my_hand}``: "the left arm" / "both arms", "the left hand" / "both hands",
  "his left hand" / "both hands"; ``{arm_s}``: arm / arms; ``{it}``: it / them;
- ``{clock}``: clockwise / counterclockwise (left = counterclockwise); ``{gait}``: walks / jogs; ``{toward}``;
- ``{NAME}`` for a ``PHRASES`` table: words chosen by one of the action's parameters (the kick of a form, the
  turn of an angle); ``{NAME|ing}`` puts that phrase's verbs in the -ing form.

``EXTRAS`` are optional phrases appended to a caption that name the action's form or manner ("with the hands in
the pockets"). Every list here is partitioned by position for the transfer corpus (``variants.partition``):
templates at positions 2, 5, 8, ... of a family's list appear only in transfer captions.
"""

from __future__ import annotations

# (humanml3d templates, kitml templates); kitml None = use the humanml3d ones.
TEMPLATES: dict[str, tuple[list[str], list[str] | None]] = {
    # ------------------------------------------------------------------------------------------- locomotion
    "walk": ([
        "walks forward {speed} for {n:step}",
        "takes {n:step} forward {speed}",
        "{speed} walks {n:step} straight ahead",
        "moves forward at a {pace} pace, taking {n:step}",
        "walks {n:step} forward {speed} and then stops",
        "strolls forward {speed}, {n:step} in all",
        "walks straight for {n:step} at a {pace} pace",
        "goes forward {speed} on foot for {n:step}",
    ], [
        "walks {n:step} forward {speed}",
        "goes {n:step} forward {speed}",
        "is walking {n:step} forward {speed}",
        "walks {speed} forward with {n:step}",
        "walks forward {n:step} at a {pace} pace",
    ]),
    "walk_backward": ([
        "walks backwards {speed} for {n:step}",
        "takes {n:step} backward {speed}",
        "moves backwards {n:step} at a {pace} pace",
        "{speed} walks {n:step} in reverse",
        "steps back {n:step} {speed}",
        "backs up {speed}, taking {n:step}",
    ], [
        "walks {n:step} backwards {speed}",
        "goes {n:step} backward {speed}",
        "is walking {n:step} backwards {speed}",
        "steps {n:step} back {speed}",
    ]),
    "jog": ([
        "jogs forward for {n:step}",
        "jogs {n:step} forward",
        "runs lightly forward for {n:step}",
        "jogs straight ahead, taking {n:step}",
        "does a light jog forward of {n:step}",
        "goes for a short jog of {n:step}",
    ], [
        "jogs {n:step} forward",
        "is jogging {n:step} forward",
        "jogs forward with {n:step}",
        "runs slowly {n:step} forward",
    ]),
    "run": ([
        "runs forward for {n:step}",
        "runs {n:step} forward",
        "runs {n:step} straight ahead",
        "runs quickly forward, taking {n:step}",
        "breaks into a run for {n:step}",
        "runs ahead at a good pace for {n:step}",
    ], [
        "runs {n:step} forward",
        "is running {n:step} forward",
        "runs forward with {n:step}",
        "runs fast {n:step} forward",
    ]),
    "sprint": ([
        "sprints forward for {n:step}",
        "dashes forward, taking {n:step}",
        "runs as fast as possible for {n:step}",
        "sprints {n:step} straight ahead at full speed",
        "races forward at top speed for {n:step}",
        "bursts into a sprint for {n:step}",
    ], [
        "sprints {n:step} forward",
        "runs very fast {n:step} forward",
        "is sprinting {n:step} forward",
        "dashes {n:step} forward",
    ]),
    "sidestep": ([
        "side steps to the {side} {times}",
        "steps sideways to {poss} {side} {times}",
        "shuffles sideways to the {side} with {n:side step}",
        "moves sideways to the {side} for {n:step}",
        "takes {n:step} to the {side} side",
        "steps to the {side} {times} without turning",
    ], [
        "makes {n:step} to the {side}",
        "walks {n:step} sideways to the {side}",
        "goes {n:step} to the {side} side",
        "steps {times} to the {side}",
    ]),
    "walk_diagonal": ([
        "walks diagonally forward to the {side} for {n:step}",
        "turns slightly {side} and walks {n:step} forward",
        "walks {n:step} forward at an angle to the {side}",
        "heads off diagonally to the {side}, taking {n:step}",
        "turns a little to the {side} and walks {n:step} that way",
    ], [
        "walks {n:step} diagonally to the {side}",
        "goes {n:step} forward and to the {side}",
        "walks diagonally {side} with {n:step}",
        "turns {side} a little and walks {n:step}",
    ]),
    "walk_toward": ([
        "walks forward and to the {side} for {n:step} while still facing forward",
        "walks toward the {side} at an angle, taking {n:step}",
        "moves diagonally to the {side} without turning the body, {n:step}",
        "walks {n:step} toward the {side} while facing straight ahead",
        "steps forward and to the {side} {times}, keeping the body facing forward",
        "drifts to the {side} while walking forward for {n:step}",
    ], [
        "walks {n:step} forward to the {side}",
        "walks {n:step} toward the {side}",
        "goes diagonally to the {side} with {n:step}",
        "walks to the {side} front with {n:step}",
    ]),
    "walk_circle": ([
        "{gait} in a circle to the {side}",
        "{gait} around in a full circle {clock}",
        "{gait} a {clock} circle",
        "{gait} in a circle, turning {side} the whole way",
        "{gait} one full lap of a circle, going {clock}",
        "{gait} around in a loop to the {side}",
    ], [
        "{gait} in a circle to the {side}",
        "{gait} a full circle {clock}",
        "{gait} around in a {side} circle",
        "{gait} in a circle {clock}",
    ]),
    "walk_curve": ([
        "walks {n:step} in a curve to the {side}",
        "walks forward {n:step}, curving to the {side}",
        "takes {n:step} along an arc bending to {poss} {side}",
        "walks in an arc to the {side} for {n:step}",
        "follows a curved path to the {side}, {n:step}",
    ], [
        "walks {n:step} in a curve to the {side}",
        "walks a {side} curve with {n:step}",
        "goes {n:step} in a {side} curve",
        "walks {n:step} on a curve to the {side}",
    ]),
    "walk_turn": ([
        "{walk_turn}",
    ], [
        "{walk_turn}",
    ]),
    "zigzag": ([
        "walks forward in a zigzag for {n:step}",
        "zigzags forward, taking {n:step}",
        "walks {n:step} forward in a zig zag pattern",
        "walks {n:step} forward, weaving left and right",
        "moves forward in a zigzag line for {n:step}",
    ], [
        "walks {n:step} in a zigzag",
        "goes {n:step} forward in zigzag",
        "walks a zigzag line with {n:step}",
        "walks zigzag with {n:step}",
    ]),
    "tiptoe": ([
        "tiptoes forward for {n:step}",
        "walks {n:step} forward on {poss} tiptoes",
        "sneaks forward on tiptoes, taking {n:step}",
        "walks on the toes for {n:step}",
        "creeps forward quietly on tiptoes for {n:step}",
    ], [
        "walks {n:step} on tiptoes",
        "tiptoes {n:step} forward",
        "sneaks {n:step} forward",
        "walks on the toes with {n:step}",
    ]),
    "march": ([
        "marches in place for {n:step}",
        "marches on the spot, lifting the knees high for {n:step}",
        "lifts the knees high, marching in place for {n:step}",
        "marches on the spot for {n:step}, swinging the arms",
        "does {n:step} of marching in place",
    ], [
        "marches {n:step} on the spot",
        "is marching in place for {n:step}",
        "marches on the spot with {n:step}",
        "marches in place with {n:step}",
    ]),
    "skip": ([
        "skips forward for {n:step}",
        "skips along, taking {n:step} forward",
        "does {n:skip} forward",
        "skips ahead for {n:step}",
    ], None),
    "crawl": ([
        "gets down on hands and knees and crawls forward for {n:step}",
        "crawls forward on all fours, {n:step}",
        "kneels down and crawls forward for {n:step}",
        "drops to all fours and crawls ahead for {n:step}",
    ], None),
    "stairs_up": ([
        "walks up {n:stair}",
        "climbs {n:step} up the stairs",
        "goes up a flight of {n:step}",
        "ascends {n:stair}",
        "walks upstairs, {n:step}",
        "climbs up {n:stair}",
    ], [
        "walks up {n:stair}",
        "goes upstairs with {n:step}",
        "climbs up {n:step}",
        "walks up the stairs with {n:step}",
    ]),
    "stairs_down": ([
        "walks down {n:stair}",
        "goes down the stairs, taking {n:step}",
        "descends {n:stair}",
        "steps down {n:stair}",
        "walks downstairs, {n:step}",
        "comes down {n:stair}",
    ], [
        "walks down {n:stair}",
        "goes downstairs with {n:step}",
        "climbs down {n:step}",
        "walks down the stairs with {n:step}",
    ]),
    "limp": ([
        "limps forward {n:step} with an injured {side} leg",
        "walks {n:step} with a limp on the {side} leg",
        "limps {n:step} forward, keeping the {side} leg stiff",
        "walks {n:step} favoring the {side} leg",
    ], None),
    "jog_in_place": ([
        "jogs in place for {n:step}",
        "runs on the spot for {n:step}",
        "jogs on the spot, taking {n:step}",
        "runs in place for {n:step}",
        "does {n:step} of jogging on the spot",
    ], [
        "jogs on the spot for {n:step}",
        "is running in place for {n:step}",
        "runs {n:step} on the spot",
        "jogs in place with {n:step}",
    ]),
    "carry": ([
        "{carry} while walking forward for {n:step}",
        "walks {n:step} forward {carry|ing}",
        "takes {n:step} forward, {carry|ing}",
        "{carry} and walks {n:step}",
        "walks forward {n:step}, {carry|ing}",
    ], [
        "walks {n:step} forward {carry|ing}",
        "{carry} and walks {n:step} forward",
        "{carry} while walking {n:step}",
        "is walking {n:step} {carry|ing}",
    ]),
    "push": ([
        "pushes something heavy forward, taking {n:step}",
        "leans into a heavy object and pushes it forward for {n:step}",
        "pushes a heavy load ahead {n:step}",
        "walks {n:step} forward pushing something",
        "shoves something forward for {n:step}",
    ], [
        "pushes something {n:step} forward",
        "pushes a heavy object forward with {n:step}",
        "walks {n:step} pushing something",
        "is pushing something forward for {n:step}",
    ]),
    "pull": ([
        "pulls something heavy while walking backwards for {n:step}",
        "leans back and pulls something, stepping back {n:step}",
        "drags a heavy object backwards for {n:step}",
        "walks {n:step} backwards pulling something",
        "pulls on something, taking {n:step} backward",
    ], [
        "pulls something and walks {n:step} backwards",
        "pulls a heavy object with {n:step} back",
        "walks {n:step} backwards pulling something",
        "is pulling something backwards for {n:step}",
    ]),
    # ------------------------------------------------------------------------------------------- turns, jumps
    "turn": ([
        "{turn}",
    ], [
        "{turn}",
    ]),
    "spin": ([
        "spins around {times} to the {side}",
        "quickly spins {clock} {times}",
        "does {n:fast spin} to the {side}",
        "twirls around {times} to the {side}",
        "pirouettes {times} to the {side}",
    ], None),
    "jump": ([
        "jumps in place {times}",
        "jumps up and down {times}",
        "does {n:jump} on the spot",
        "jumps straight up {times} with both feet",
        "hops up with both feet {times}",
        "leaps into the air {times}",
    ], [
        "jumps {times}",
        "performs {n:jump} in place",
        "jumps up {times}",
        "jumps {times} on the spot",
    ]),
    "jump_forward": ([
        "jumps forward {times}",
        "does {n:forward jump}",
        "leaps forward {times}",
        "jumps ahead {times} with both feet",
        "does {n:long jump} forward",
        "jumps forward with both feet together {times}",
    ], [
        "jumps forward {times}",
        "makes {n:jump} forward",
        "performs {n:forward jump}",
        "jumps {times} to the front",
    ]),
    "jump_backward": ([
        "jumps backward {times}",
        "jumps back {times}",
        "does {n:backward jump}",
        "leaps backwards {times}",
    ], None),
    "jump_side": ([
        "jumps to the {side} {times}",
        "jumps sideways to the {side} {times}",
        "leaps {times} to {poss} {side}",
        "does {n:sideways jump} to the {side}",
        "hops sideways with both feet to the {side} {times}",
    ], [
        "jumps to the {side} {times}",
        "makes {n:jump} to the {side}",
        "jumps {times} to the {side} side",
        "jumps sideways to the {side} {times}",
    ]),
    "jump_turn": ([
        "jumps and turns around to the {side} in the air",
        "jumps and spins 180 degrees to the {side}",
        "does a jumping half turn to the {side}",
        "jumps up and turns around to {poss} {side}",
    ], None),
    "hop": ([
        "hops on the {side} leg {times}",
        "hops {times} on {poss} {side} foot",
        "stands on the {side} foot and hops {times}",
        "does {n:hop} on the {side} leg",
        "hops {times} on one leg, the {side} one",
        "jumps {times} on the {side} foot only",
    ], [
        "hops {times} on the {side} leg",
        "jumps on the {side} foot {times}",
        "hops on {poss} {side} leg {times}",
        "hops {times} on one leg, the {side} one",
    ]),
    "jumping_jacks": ([
        "does {n:jumping jack}",
        "performs {n:jumping jack}",
        "jumps spreading the arms and legs {times}",
        "does {n:star jump}",
    ], None),
    # ------------------------------------------------------------------------------------------- lower body
    "squat": ([
        "squats {times}",
        "does {n:squat}",
        "squats down and stands back up {times}",
        "bends the knees and squats {times}",
        "lowers the body into a squat {times}",
        "performs {n:squat}",
    ], [
        "does {n:squat}",
        "squats down {times}",
        "performs {n:squat}",
        "squats {times}",
    ]),
    "lunge": ([
        "does {n:lunge} with the {side} leg",
        "lunges forward on the {side} leg {times}",
        "steps forward into a lunge with the {side} leg {times}",
        "lunges {times} with the {side} foot forward",
    ], [
        "does {n:lunge} with the {side} leg",
        "lunges {times} with the {side} leg forward",
        "performs {n:lunge} on the {side} leg",
        "makes {n:lunge} with the {side} leg",
    ]),
    "crouch": ([
        "crouches down low and gets back up",
        "squats down into a crouch, stays there a moment and stands up",
        "gets down into a low crouch and then rises",
        "crouches down for a moment",
        "ducks down low and then stands up again",
    ], [
        "crouches down and stands up",
        "goes down into a crouch and gets up",
        "crouches and gets up again",
        "crouches down for a while",
    ]),
    "sit_down": ([
        "sits down",
        "sits down on a chair",
        "bends the knees and sits down",
        "takes a seat",
        "lowers {poss} body onto a chair",
        "sits down on a seat",
    ], [
        "sits down",
        "sits down on a chair",
        "is sitting down",
        "sits on a chair",
    ]),
    "stand_up": ([
        "stands up from a chair",
        "gets up from sitting",
        "rises from a seated position",
        "stands up from sitting",
        "gets up out of the chair",
        "rises to {poss} feet from a seat",
    ], [
        "stands up",
        "gets up from a chair",
        "stands up from a chair",
        "rises from the chair",
    ]),
    "kick": ([
        "{kick} with the {side} leg {times}",
        "{kick} {times} using {poss} {side} foot",
        "does {n:kick_noun} with the {side} leg",
        "throws {n:kick_noun} with the {side} foot",
        "{kick} {times}, using the {side} leg",
    ], [
        "{kick} with the {side} foot {times}",
        "performs {n:kick_noun} with the {side} leg",
        "{kick} {times} with {poss} {side} leg",
        "makes {n:kick_noun} with the {side} leg",
    ]),
    "balance": ([
        "balances on the {side} leg",
        "stands on the {side} foot with the arms out",
        "lifts the {other} foot and balances on the {side} leg",
        "stands on one leg, the {side} one",
        "holds {poss} balance on the {side} foot",
    ], [
        "balances on the {side} leg",
        "stands on the {side} foot",
        "is balancing on {poss} {side} leg",
        "stands on the {side} leg",
    ]),
    "knee_raise": ([
        "raises the {side} knee {times}",
        "lifts the {side} knee up {times}",
        "brings the {side} knee up to the chest {times}",
        "does {n:knee raise} with the {side} leg",
        "pulls the {side} knee up high {times}",
    ], [
        "lifts the {side} knee {times}",
        "raises {poss} {side} knee {times}",
        "pulls the {side} knee up {times}",
    ]),
    "kneel": ([
        "kneels down on the {side} knee",
        "gets down on the {side} knee",
        "goes down on one knee, the {side} one",
        "drops to the {side} knee",
        "kneels on {poss} {side} knee",
    ], [
        "kneels down on the {side} knee",
        "goes down on {poss} {side} knee",
        "kneels on the {side} knee",
    ]),
    "calf_raise": ([
        "rises up onto the toes {times}",
        "stands on tiptoes {times}",
        "does {n:calf raise}",
        "lifts the heels off the ground {times}",
        "goes up on the toes and back down {times}",
    ], [
        "stands on tiptoes {times}",
        "rises on the toes {times}",
        "goes up on the toes {times}",
    ]),
    # ------------------------------------------------------------------------------------------- upper body
    "raise_arm": ([
        "{raise}",
    ], [
        "{raise}",
    ]),
    "clap": ([
        "claps {times}",
        "claps the hands {times}",
        "brings the hands together {times}",
        "claps {poss} hands together {times}",
        "applauds, clapping {times}",
    ], [
        "claps {times}",
        "claps the hands {times}",
        "is clapping {times}",
        "claps with both hands {times}",
    ]),
    "punch": ([
        "punches with the {side} fist {times}",
        "throws {n:punch_noun} with the {side} hand",
        "punches forward {times} with the {side} arm",
        "strikes {times} with the {side} fist",
        "punches {times} using {poss} {side} hand",
    ], [
        "punches {times} with the {side} hand",
        "boxes with the {side} arm {times}",
        "makes {n:punch_noun} with {poss} {side} hand",
        "punches with the {side} fist {times}",
    ]),
    "boxing": ([
        "boxes, throwing {n:punch}",
        "shadow boxes with {n:punch}",
        "throws {n:punch} with alternating hands",
        "practices boxing, throwing {n:punch}",
        "throws {n:punch} in a boxing stance",
    ], [
        "boxes with {n:punch}",
        "is boxing, {n:punch}",
        "makes {n:punch} alternating the arms",
        "performs {n:punch} with both hands",
    ]),
    "sword": ([
        "{sword} {sword_hand} {times}",
        "{sword} {times}, holding it {sword_hand}",
        "mimes sword fighting, {sword|ing} {sword_hand} {times}",
        "practices with a sword {sword_hand}, {sword|ing} {times}",
        "{sword} {sword_hand} {times} as if fencing",
    ], [
        "{sword} {sword_hand} {times}",
        "{sword} {times} {sword_hand}",
        "fights {sword_hand}, {sword|ing} {times}",
    ]),
    "throw": ([
        "throws something with the {side} hand",
        "throws a ball with the {side} arm",
        "winds up and throws with the {side} hand",
        "makes a throwing motion with the {side} arm",
        "tosses something with {poss} {side} hand",
    ], [
        "throws something with the {side} hand",
        "throws a ball with the {side} hand",
        "is throwing with {poss} {side} arm",
        "throws with the {side} arm",
    ]),
    "stretch": ([
        "stretches both arms above the head",
        "reaches up high with both arms",
        "stretches upward with the arms over the head",
        "raises both arms overhead and stretches",
        "stretches the whole body upward",
    ], [
        "stretches the arms up",
        "stretches upwards",
        "reaches up with both arms",
    ]),
    "side_bend": ([
        "bends to the {side} and then to the {other} {times}",
        "stretches sideways to the {side} and then to the {other}, {times}",
        "with arms up, leans to the {side} then to the {other} {times}",
        "leans the upper body to the {side} and then to the {other} {times}",
    ], [
        "bends to the {side} and to the {other} {times}",
        "leans to the {side} and then to the {other} {times}",
        "bends sideways to the {side} and to the {other} {times}",
    ]),
    "pick_up": ([
        "picks something up from the ground with the {side} hand",
        "bends down and picks up an object with the {side} hand",
        "reaches down to the floor with the {side} hand and picks something up",
        "picks up something with {poss} {side} hand",
        "grabs something off the floor with the {side} hand",
    ], [
        "picks something up with the {side} hand",
        "lifts something from the ground with the {side} hand",
        "bends down and picks up something with {poss} {side} hand",
        "picks up an object with the {side} hand",
    ]),
    "golf_swing": ([
        "swings a golf club",
        "makes a golf swing",
        "plays golf, swinging the club",
        "takes a swing with a golf club",
    ], None),
    "dance": ([
        "{dance}",
    ], [
        "{dance}",
    ]),
    "arm_circles": ([
        "makes {n:circle} {circle_dir} with {arms}",
        "circles {arms} {circle_dir} {times}",
        "rotates {arms} {circle_dir} in big circles {times}",
        "swings {arms} around {circle_dir} in {n:circle}",
        "does {n:arm circle} {circle_dir} with {arms}",
    ], [
        "makes {n:circle} {circle_dir} with {arms}",
        "circles {arms} {circle_dir} {times}",
        "rotates {arms} {circle_dir} {times}",
    ]),
    "touch_toes": ([
        "bends down and touches the toes",
        "touches {poss} toes",
        "reaches down to touch the feet",
        "bends over to touch the toes",
        "bends forward and reaches for the toes",
    ], [
        "touches the toes",
        "bends down to the toes",
        "bends forward and touches the feet",
    ]),
    "drink": ([
        "drinks from {vessel} in the {side} hand",
        "lifts {vessel} to the mouth with the {side} hand and drinks",
        "takes a drink with the {side} hand",
        "brings the {side} hand to the mouth to drink",
        "takes a sip from {vessel} held in the {side} hand",
    ], [
        "drinks with the {side} hand",
        "drinks something from {vessel} in the {side} hand",
        "is drinking with {poss} {side} hand",
    ]),
    "tennis_swing": ([
        "swings a tennis racket with the {side} hand",
        "hits a forehand with the {side} hand",
        "plays tennis, swinging with the {side} arm",
        "swings an imaginary racket with the {side} arm",
    ], None),
    "torso_twist": ([
        "twists the torso from side to side {times}",
        "rotates the upper body left and right {times}",
        "twists at the waist {times} with the arms out",
        "turns the upper body from side to side {times}",
    ], [
        "twists the upper body {times}",
        "turns the torso left and right {times}",
        "rotates the hip {times}",
    ]),
    "violin": ([], [
        "plays the violin",
        "is playing the violin",
        "plays violin",
        "mimes playing a violin",
    ]),
    "guitar": ([], [
        "plays the guitar",
        "plays air guitar",
        "is playing guitar",
        "plays guitar",
    ]),
    "wipe": ([], [
        "wipes the table with the {side} hand",
        "cleans a surface with the {side} hand",
        "is wiping something with {poss} {side} hand",
        "wipes something with the {side} hand",
    ]),
    "stir": ([], [
        "stirs something in a bowl with the {side} hand",
        "is stirring with the {side} hand",
        "stirs with {poss} {side} hand",
        "stirs a pot with the {side} hand",
    ]),
    "phone_call": ([
        "holds a phone to the ear with the {side} hand and talks",
        "takes a phone call, holding the phone in the {side} hand",
        "answers the phone with the {side} hand",
        "talks on the phone held to the ear with the {side} hand",
        "puts a phone to {poss} ear with the {side} hand",
    ], [
        "makes a phone call with the {side} hand",
        "talks on the phone with the {side} hand",
        "holds a phone to the ear with the {side} hand",
        "is on the phone, holding it with the {side} hand",
    ]),
    "idle": ([
        "{idle}",
        "stands around and {idle}",
        "stands in place and {idle}",
        "waits and {idle}",
    ], [
        "{idle}",
        "stands and {idle}",
        "stands there and {idle}",
    ]),
    # ------------------------------------------------------------------------------------------- gestures
    "wave": ([
        "waves with {hand} {times}",
        "waves {my_hand} {times}",
        "raises {hand} and waves {times}",
        "waves hello {times} with {hand}",
        "waves goodbye with {hand}, {times}",
        "greets someone by waving {hand} {times}",
        "waves at someone with {hand} {times}",
    ], [
        "waves with {hand} {times}",
        "waves {times} with {my_hand}",
        "is waving {my_hand} {times}",
        "waves goodbye with {hand} {times}",
    ]),
    "beckon": ([
        "beckons with the {side} hand {times}",
        "waves someone over with the {side} hand, {times}",
        "signals someone to come closer, curling the {side} hand {times}",
        "gestures come here with the {side} hand {times}",
        "calls someone over with {n:curl} of the {side} hand",
    ], [
        "beckons with the {side} hand {times}",
        "waves someone closer with the {side} hand {times}",
        "signals to come with the {side} hand {times}",
        "makes a come here gesture with the {side} hand {times}",
    ]),
    "call_out": ([
        "{call}",
    ], [
        "{call}",
    ]),
    "point": ([
        "{point}",
    ], [
        "{point}",
    ]),
    "present": ([
        "gestures to the {side} with an open hand",
        "shows the way to the {side} with the {side} hand",
        "sweeps the {side} hand out to the side as if presenting something",
        "points the way to the {side} with an open palm",
        "invites someone to go {side} with a sweep of the {side} hand",
        "holds the {side} hand out to the side, palm up",
    ], [
        "gestures to the {side} with the {side} hand",
        "shows the way to the {side}",
        "presents something on the {side} side",
        "points the way with the {side} hand",
    ]),
    "raise_hand": ([
        "raises the {side} hand as if to answer a question",
        "puts {poss} {side} hand up",
        "raises the {side} hand like a student in class",
        "lifts the {side} hand up to ask a question",
        "holds the {side} hand up in the air",
        "puts the {side} hand up to be called on",
    ], [
        "raises the {side} hand",
        "puts the {side} hand up",
        "lifts {poss} {side} hand to answer",
        "raises the {side} hand to ask something",
    ]),
    "nod": ([
        "nods {times}",
        "nods the head {times}",
        "nods in agreement {times}",
        "nods yes {times}",
        "bobs the head up and down {times}",
    ], None),
    "shake_head": ([
        "shakes the head",
        "shakes {poss} head no",
        "shakes the head from side to side",
        "turns the head left and right to say no",
    ], None),
    "shrug": ([
        "shrugs {poss} shoulders {times}",
        "shrugs {times}",
        "raises the shoulders in a shrug {times}",
        "shrugs with the palms up {times}",
        "lifts both shoulders {times} as if to say no idea",
    ], None),
    "cheer": ([
        "{cheer}",
    ], [
        "{cheer}",
    ]),
    "cross_arms": ([
        "crosses the arms over the chest",
        "folds {poss} arms",
        "stands with the arms crossed for a while",
        "crosses both arms in front of the body",
        "folds the arms across the chest and then lets them down",
    ], [
        "crosses the arms",
        "folds the arms",
        "stands with crossed arms",
        "crosses both arms in front of the chest",
    ]),
    "hands_on_hips": ([
        "puts the hands on the hips",
        "stands with both hands on the hips",
        "places {poss} hands on the hips",
        "rests the hands on the hips for a moment",
        "puts both hands on the waist",
    ], [
        "puts the hands on the hips",
        "stands with hands on hips",
        "places both hands on the hips",
    ]),
    "look_around": ([
        "looks around, first to the {side} and then to the {other}",
        "looks to the {side} and then to the {other}",
        "turns {poss} head to the {side} and then to the {other}",
        "glances {side} and then {other}",
        "looks around, checking the {side} and then the {other}",
    ], [
        "looks to the {side} and to the {other}",
        "looks around, first {side} then {other}",
        "turns the head {side} and {other}",
    ]),
    "salute": ([
        "salutes with the {side} hand",
        "gives a military salute with the {side} hand",
        "raises the {side} hand to the forehead in a salute",
        "salutes, touching the brow with the {side} hand",
    ], [
        "salutes with the {side} hand",
        "makes a salute with the {side} hand",
        "is saluting with {poss} {side} hand",
    ]),
    "bow": ([
        "bows {depth} {times}",
        "bows forward {depth} {times}",
        "bends forward at the waist {depth} {times}",
        "does {n:bow} {depth}",
        "takes a bow {depth}, {times}",
    ], [
        "bows {depth} {times}",
        "performs {n:bow}",
        "bows down {times}",
    ]),
    # ------------------------------------------------------------------------------------------- idle
    "stand": ([
        "stands still",
        "stops",
        "stands there",
        "waits",
        "stays in place",
        "comes to a rest",
    ], [
        "stands still",
        "stops",
        "stands",
        "waits",
    ]),
}

# Count-free phrasings of the gaits, shared by both dialects and added to each family's list (``captions
# .templates_for``). People searching a library write "a person walks forward" or "someone jogging", never the
# number of steps; when every gait caption stated a count, the text tower placed such plain queries far from all
# locomotion, far below where a model trained with fewer counted captions put them (measured on the real takes:
# docs/EXPERIMENTS.md, "Count-free gait captions"). Side, speed and direction stay.
COUNT_FREE: dict[str, list[str]] = {
    "walk": ["walks forward {speed}", "is walking straight ahead {speed}", "walks {speed} in a straight line",
             "goes for a walk {speed}", "walks ahead {speed}"],
    "walk_backward": ["walks backwards {speed}", "moves backward {speed}", "backs away {speed}",
                      "walks in reverse {speed}"],
    "jog": ["jogs forward", "is jogging", "goes for a jog", "jogs straight ahead"],
    "run": ["runs forward", "is running", "runs straight ahead", "breaks into a run"],
    "sprint": ["sprints forward", "dashes ahead", "runs at full speed", "is sprinting"],
    "walk_diagonal": ["walks diagonally to the {side}", "heads off to the {side} at an angle",
                      "walks forward and to the {side}"],
    "zigzag": ["walks in a zigzag", "zigzags forward", "weaves left and right while walking"],
    "tiptoe": ["tiptoes forward", "walks on tiptoes", "sneaks forward quietly"],
    "skip": ["skips forward", "is skipping along", "skips ahead"],
    "limp": ["limps forward on the {side} leg", "walks with a limp, favoring the {side} leg",
             "limps along with an injured {side} leg"],
    "jog_in_place": ["jogs in place", "runs on the spot", "is jogging on the spot"],
    "march": ["marches in place", "marches on the spot", "is marching in place, knees high"],
}

# Family phrases chosen by one parameter: slot -> (parameter, {value: hml options}, {value: kit options} | None).
PHRASES: dict[str, tuple[str, dict, dict | None]] = {
    "turn": ("angle", {
        90: ["turns {side}", "turns to the {side}", "turns 90 degrees to the {side}",
             "makes a quarter turn to the {side}", "turns {side} on the spot", "rotates 90 degrees to the {side}"],
        180: ["turns around to the {side}", "turns 180 degrees to {poss} {side}", "makes a half turn to the {side}",
              "turns around over the {side} shoulder", "turns to face the other way, turning {side}",
              "does an about face to the {side}"],
        360: ["turns all the way around to the {side}", "makes a full turn to the {side}",
              "turns 360 degrees to the {side}", "turns in a full circle to the {side}",
              "turns around once completely, to the {side}"],
    }, {
        90: ["turns {side}", "turns {side} by 90 degrees", "turns to the {side}", "turns {side} on the spot"],
        180: ["turns around to the {side}", "turns 180 degrees to the {side}", "turns back over the {side}",
              "turns around {side}"],
        360: ["turns 360 degrees to the {side}", "turns a full circle to the {side}",
              "turns around fully to the {side}", "turns once around to the {side}"],
    }),
    "walk_turn": ("angle", {
        90: ["walks forward, turns {side} and keeps walking for {n:step} in all",
             "walks {n:step}, turning {side} along the way",
             "walks forward, then turns to the {side} and continues, {n:step} in total",
             "takes {n:step}, making a {side} turn in the middle",
             "walks and turns 90 degrees to the {side} without stopping, {n:step}"],
        180: ["walks forward, turns around to the {side} and walks back, {n:step} in all",
              "walks {n:step}, turning around to the {side} halfway",
              "walks away, turns back over the {side} and returns, taking {n:step}",
              "walks forward and then turns around {side} to walk back, {n:step}"],
    }, {
        90: ["walks {n:step} and turns {side}", "walks forward and turns {side} with {n:step}",
             "walks {n:step} making a {side} turn"],
        180: ["walks {n:step}, turns around to the {side} and walks back",
              "walks forward, turns {side} and walks back with {n:step}",
              "walks {n:step} forward and back, turning {side}"],
    }),
    "raise": ("how", {
        "forward": ["raises {arms} forward", "lifts {arms} straight out in front", "raises {arms} to the front",
                    "holds {arms} out in front and lowers {it}", "extends {arms} forward at shoulder height"],
        "side": ["raises {arms} out to the side", "lifts {arms} sideways to shoulder height",
                 "stretches {arms} out to the side and lowers {it}", "holds {arms} out sideways",
                 "spreads {arms} out to the side"],
        "up": ["raises {arms} above the head", "lifts {arms} up over the head", "puts {arms} up in the air",
               "reaches {arms} up toward the sky", "raises {arms} straight up"],
    }, {
        "forward": ["lifts {arms} forward", "raises {arms} to the front", "holds {arms} forward"],
        "side": ["lifts {arms} to the side", "raises {arms} sideways", "holds {arms} out to the side"],
        "up": ["raises {arms} up", "lifts {arms} over the head", "raises {arms} overhead"],
    }),
    "dance": ("speed", {
        "slow": ["dances slowly", "sways and dances slowly", "does a slow dance", "dances gently to a slow beat",
                 "moves slowly to the music"],
        "fast": ["dances energetically", "dances to a fast beat", "dances quickly", "does an energetic dance",
                 "dances fast to the music"],
    }, {
        "slow": ["dances slowly", "is dancing slowly", "dances to slow music"],
        "fast": ["dances fast", "is dancing fast", "dances to fast music"],
    }),
    "kick": ("form", {
        "front": ["kicks", "kicks forward", "kicks straight out in front"],
        "side": ["kicks to the side", "kicks out sideways", "does a side kick"],
        "roundhouse": ["does a roundhouse kick", "kicks around in an arc", "swings a roundhouse kick"],
        "back": ["kicks backwards", "kicks back behind", "kicks out to the rear"],
    }, {
        "front": ["kicks", "kicks forward", "kicks to the front"],
        "side": ["kicks to the side", "kicks sideways", "kicks out to the side"],
        "roundhouse": ["kicks around", "does a roundhouse kick", "kicks in an arc"],
        "back": ["kicks backwards", "kicks back", "kicks to the back"],
    }),
    "kick_noun": ("form", {
        "front": ["kick", "front kick", "forward kick"],
        "side": ["side kick", "sideways kick", "kick to the side"],
        "roundhouse": ["roundhouse kick", "turning kick", "round kick"],
        "back": ["back kick", "backward kick", "kick to the back"],
    }, None),
    "punch_noun": ("form", {
        "jab": ["punch", "jab", "quick straight punch"],
        "hook": ["punch", "hook", "hook punch"],
        "cross": ["punch", "straight punch", "cross"],
        "uppercut": ["punch", "uppercut", "rising punch"],
    }, None),
    "sword": ("form", {
        "slash": ["slashes with a sword", "swings a sword diagonally", "cuts the air with a sword"],
        "stab": ["stabs forward with a sword", "thrusts a sword forward", "lunges and stabs with a sword"],
        "chop": ["chops down with a sword", "swings a sword down from overhead", "brings a sword down hard"],
    }, {
        "slash": ["swings a sword", "slashes with a sword", "strikes with a sword"],
        "stab": ["stabs with a sword", "thrusts a sword", "stabs forward"],
        "chop": ["chops with a sword", "strikes down with a sword", "swings a sword down"],
    }),
    "sword_hand": ("form", {
        "slash": ["in the {side} hand", "with the {side} hand", "in {poss} {side} hand"],
        "stab": ["in the {side} hand", "with the {side} hand", "in {poss} {side} hand"],
        "chop": ["with both hands", "in both hands", "gripped with both hands"],
    }, None),
    "carry": ("form", {
        "box": ["carries a box with both hands", "carries a big box in front of the body",
                "holds a box in both arms"],
        "bag": ["carries a heavy bag in the {side} hand", "holds a heavy bag in {poss} {side} hand",
                "carries something heavy in the {side} hand"],
        "shoulder": ["carries a load on the {side} shoulder", "carries something on {poss} {side} shoulder",
                     "holds a sack on the {side} shoulder"],
    }, {
        "box": ["carries a box", "carries a box with both hands", "carries something with both hands"],
        "bag": ["carries a bag in the {side} hand", "carries something in the {side} hand",
                "carries a heavy bag with the {side} hand"],
        "shoulder": ["carries something on the {side} shoulder", "carries a sack on the {side} shoulder",
                     "carries a load on the {side} shoulder"],
    }),
    "idle": ("form", {
        "shift_weight": ["shifts {poss} weight from one foot to the other", "sways from foot to foot",
                         "rocks from one foot to the other while standing", "shifts the weight between the feet"],
        "look_watch": ["looks at the watch on the {side} wrist", "checks the time on {poss} {side} wrist",
                       "raises the {side} wrist and glances at a watch"],
        "touch_face": ["touches {poss} face with the {side} hand", "rubs the chin with the {side} hand",
                       "brings the {side} hand up to the face"],
        "scratch_head": ["scratches the head with the {side} hand", "scratches {poss} head with the {side} hand",
                         "raises the {side} hand and scratches the head"],
    }, {
        "shift_weight": ["shifts the weight from one foot to the other", "shifts weight between the feet",
                         "rocks from foot to foot"],
        "look_watch": ["looks at the watch on the {side} wrist", "checks the watch on the {side} arm",
                       "looks at the {side} wrist"],
        "touch_face": ["touches the face with the {side} hand", "touches the chin with the {side} hand",
                       "puts the {side} hand to the face"],
        "scratch_head": ["scratches the head with the {side} hand", "scratches {poss} head with the {side} hand",
                         "scratches the head using the {side} hand"],
    }),
    "call": ("form", {
        "cupped": ["cups both hands around the mouth and calls out {to}", "shouts {to} with hands around the mouth",
                   "calls out {to}, hands cupped to the mouth", "yells {to} through cupped hands"],
        "one_hand": ["calls out {to} with one hand beside the mouth", "shouts {to}, one hand at the mouth",
                     "yells {to} with a hand raised to the mouth"],
        "cupped_lean": ["leans forward and shouts {to} with both hands around the mouth",
                        "cups the hands around the mouth and yells {to}, leaning in",
                        "calls out loudly {to}, leaning forward with hands cupped"],
    }, {
        "cupped": ["calls out {to} with both hands at the mouth", "shouts {to} with hands around the mouth",
                   "calls {to} with the hands cupped"],
        "one_hand": ["calls out {to} with one hand at the mouth", "shouts {to}", "yells {to}"],
        "cupped_lean": ["shouts {to} leaning forward", "calls out {to} with both hands",
                        "yells {to} with hands at the mouth"],
    }),
    "to": ("toward", {
        "forward": ["to someone far away", "to someone in front", "to someone ahead", "to someone in the distance"],
        "left": ["to the {toward}", "toward the {toward}", "to someone on the {toward}",
                 "to someone off to the {toward}"],
        "right": ["to the {toward}", "toward the {toward}", "to someone on the {toward}",
                  "to someone off to the {toward}"],
    }, None),
    "point": ("target", {
        "forward": ["points forward with the {side} hand", "points straight ahead with the {side} arm",
                    "points at something in front with the {side} hand", "points ahead with {poss} {side} hand"],
        "outward": ["points to the {side} with the {side} arm", "points out to {poss} {side} side",
                    "stretches the {side} arm out and points to the {side}", "points off to the {side}"],
        "up": ["points up at the sky with the {side} hand", "points upward with the {side} arm",
               "raises the {side} arm and points up", "points up with {poss} {side} hand"],
    }, {
        "forward": ["points forward with the {side} hand", "points ahead with the {side} arm",
                    "points to the front with the {side} hand"],
        "outward": ["points to the {side} with the {side} hand", "points {side} with the {side} arm",
                    "points to the {side} side"],
        "up": ["points up with the {side} hand", "points upwards with the {side} arm",
               "points to the sky with the {side} hand"],
    }),
    "cheer": ("form", {
        "arms_up": ["cheers with both arms up", "throws both arms up in the air in celebration",
                    "celebrates with the arms raised", "raises both arms in triumph"],
        "fist_pump": ["pumps the {side} fist in the air {times}", "celebrates by pumping the {side} fist {times}",
                      "raises the {side} fist and pumps it {times}", "does {n:fist pump} with the {side} arm"],
        "jump": ["jumps for joy {times} with the arms up", "jumps up and down {times} cheering",
                 "leaps {times} with both arms raised in celebration"],
    }, {
        "arms_up": ["cheers with both arms up", "raises both arms to cheer", "celebrates with the arms up"],
        "fist_pump": ["pumps the {side} fist {times}", "cheers with the {side} fist {times}",
                      "raises the {side} fist {times}"],
        "jump": ["jumps {times} and cheers", "jumps {times} with the arms up", "cheers jumping {times}"],
    }),
    "vessel": ("form", {
        "cup": ["a cup", "a glass", "a mug"],
        "bottle": ["a bottle", "a water bottle", "a bottle of water"],
    }, None),
    "circle_dir": ("direction", {
        "forward": ["forward", "forwards", "to the front"],
        "backward": ["backward", "backwards", "to the back"],
    }, None),
    "depth": ("depth", {
        "slight": ["slightly", "a little", "briefly and shallowly"],
        "normal": ["", "", ""],
        "deep": ["deeply", "very low", "all the way down"],
    }, None),
}

# Optional phrases naming a form or manner, appended to a caption now and then: family -> (parameter, {value:
# hml options}, kit options | None). A value with no entry (or an empty list) is never mentioned.
EXTRAS: dict[str, tuple[str, dict, dict | None]] = {
    "walk": ("form", {
        "pockets": ["with {poss} hands in the pockets", "hands in pockets", "keeping the hands in the pockets"],
        "behind_back": ["with the hands behind the back", "hands clasped behind {poss} back",
                        "holding the hands behind the back"],
    }, {"pockets": ["with the hands in the pockets"], "behind_back": ["with the hands behind the back"]}),
    "wave": ("form", {
        "bent": ["with the hand at head height", "with a bent elbow", "from the elbow"],
        "overhead": ["with the {arm_s} raised high above the head", "with a straight {arm_s} overhead",
                     "high over the head"],
        "forearm": ["with a small movement of the forearm", "in front of the chest", "with a little wave"],
        "low": ["low, at hip height", "with a small, low wave", "keeping the hand low"],
    }, None),
    "squat": ("form", {
        "arms_forward": ["with the arms stretched out in front", "holding the arms forward",
                         "arms reaching forward"],
        "hands_on_hips": ["with the hands on the hips", "hands on hips", "keeping the hands on the hips"],
        "hands_behind_head": ["with the hands behind the head", "hands behind the head",
                              "with the fingers laced behind the head"],
    }, None),
    "clap": ("form", {
        "overhead": ["above the head", "over the head", "with the hands up high"],
        "low": ["in front of the belly", "low in front of the body", "at waist height"],
    }, None),
    "jump": ("form", {
        "tuck": ["pulling the knees up to the chest", "tucking the knees up", "with the knees pulled up high"],
        "swing": ["swinging the arms", "with a swing of the arms", "using the arms for momentum"],
    }, None),
    "crouch": ("form", {
        "hand_down": ["touching the floor with one hand", "one hand on the ground", "with a hand on the floor"],
        "on_toes": ["on the balls of the feet", "up on the toes", "with the heels off the ground"],
    }, None),
    "turn": ("form", {
        "pivot": ["pivoting on one foot", "on one foot", "in one smooth pivot"],
        "head_first": ["looking over the shoulder first", "leading with the head", "after glancing back"],
    }, None),
    "raise_hand": ("form", {
        "eager": ["eagerly, stretching up on the toes", "eagerly", "stretching up as high as possible"],
        "bent": ["with the elbow bent", "with a bent arm", "not very high"],
    }, None),
    "sit_down": ("form", {
        "hands_on_thighs": ["with the hands resting on the thighs", "and rests the hands on the knees",
                            "placing the hands on the thighs"],
        "slump": ["heavily", "flopping down", "slumping back"],
    }, None),
    "stand_up": ("form", {
        "push_off": ["pushing off the thighs with both hands", "using the hands on the knees to push up",
                     "pushing up with the hands"],
        "rock": ["rocking forward to get up", "after rocking forward a couple of times", "with some momentum"],
    }, None),
    "bow": ("form", {
        "arms_sides": ["with the arms at the sides", "arms hanging down", "keeping the arms by the sides"],
        "clasped": ["with the hands clasped in front", "hands folded in front", "holding the hands together"],
        "hand_on_chest": ["with one hand on the chest", "a hand over the heart", "holding a hand to the chest"],
        "arm_sweep": ["with a sweeping gesture of the arm", "theatrically", "with a flourish of the arm"],
    }, None),
    "dance": ("form", {
        "sway": ["swaying from side to side", "swaying the arms", "rocking side to side"],
        "twist": ["twisting the hips", "doing the twist", "twisting back and forth"],
        "bounce": ["bouncing on the knees", "bouncing to the beat", "with bouncy knees"],
        "disco": ["pointing up like a disco dancer", "with disco moves", "pointing up and across"],
        "arm_wave": ["making wave motions with the arms", "rolling the arms like a wave", "with wavy arms"],
    }, None),
    "phone_call": ("form", {
        "head_tilt": ["tilting the head toward the phone", "with the head tilted", "head leaning to the phone"],
        "gesturing": ["gesturing with the {other} hand while talking", "talking with the free hand moving",
                      "and gestures with the other hand"],
    }, None),
    "pick_up": ("form", {
        "bend": ["bending over at the waist", "bending forward", "with straight legs"],
        "squat": ["squatting down to reach it", "bending the knees to get low", "from a squat"],
        "reach_side": ["reaching down beside the foot", "reaching to the side", "leaning to the side"],
    }, None),
    "throw": ("form", {
        "overhand": ["overhand", "over the shoulder", "from above the shoulder"],
        "underhand": ["underhand", "with an underarm swing", "from below the waist"],
        "sidearm": ["sidearm", "with a sideways swing", "from the side"],
    }, None),
    "look_around": ("form", {
        "torso": ["turning the upper body too", "turning the shoulders as well", "with the whole upper body"],
        "scan": ["scanning up and down", "searching for something", "as if looking for something"],
    }, None),
    "push": ("form", {
        "shoulder": ["with a shoulder against it", "leaning a shoulder into it", "shoulder first"],
        "both_hands": ["with both hands", "arms stretched out", "with both arms"],
    }, None),
    "pull": ("form", {
        "rope": ["hand over hand, as if on a rope", "pulling a rope", "like pulling on a rope"],
        "both_hands": ["with both hands", "gripping with both hands", "using both hands"],
    }, None),
}
