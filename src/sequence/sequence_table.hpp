#pragma once

// Which live sequence of a stateful model holds which slot, and which of its
// requests wait: the sequence batcher's decisions, with time passed in, so
// they are tested without threads or sleeps.
//
// The rules (docs/sequences.md):
//  - a sequence becomes live with a request that sets sequence_start and
//    holds one slot (0..slots-1) until its sequence_end request has run or
//    it has been idle for `idle`; with every slot taken, starting sequences
//    wait (at most `max_waiting_sequences` of them) for one to free;
//  - a sequence's requests run one at a time, in arrival order;
//  - a request for a sequence that is not live, without sequence_start, is
//    refused, saying whether the sequence timed out.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/inference_request.hpp"
#include "core/status.hpp"
#include "sequence/sequence_controls.hpp"

namespace surge {

class sequence_table {
 public:
  struct step {
    request_ptr request;
    sequence_controls controls;
    std::uint32_t slot{0};
  };
  // What a decision asks the batcher to do once it lets go of its lock.
  struct effects {
    std::vector<step> run;                                  // hand these to the queue now
    std::vector<std::pair<request_ptr, error>> refused;     // answer these
  };

  sequence_table(std::string model, std::uint32_t slots, clock::duration idle, std::size_t max_waiting_sequences);

  void arrive(request_ptr request, sequence_controls controls, clock::time_point now, effects& out);
  // The step of `id` handed out last has been answered.
  void finished(const std::string& id, bool ended, clock::time_point now, effects& out);
  // Frees the slots of sequences idle since before now - idle.
  void expire(clock::time_point now, effects& out);
  // When the next live sequence would expire, if one can.
  std::optional<clock::time_point> next_expiry() const;
  // Every waiting request, for shutdown; the table is empty afterwards.
  std::vector<request_ptr> take_waiting();

  std::size_t live_sequences() const { return live_.size(); }
  std::size_t waiting_sequences() const { return pending_order_.size(); }

 private:
  struct queued {
    request_ptr request;
    sequence_controls controls;
  };
  struct sequence {
    std::uint32_t slot{0};
    bool running{false};
    bool running_ends{false};
    clock::time_point last;
    std::deque<queued> waiting;
  };

  void release_next(sequence& s, effects& out);
  void free_slot(std::uint32_t slot, clock::time_point now, effects& out);
  void remember_timed_out(const std::string& id);
  error not_live(const std::string& id) const;

  std::string model_;
  std::uint32_t slots_;
  clock::duration idle_;
  std::size_t max_waiting_sequences_;
  std::vector<std::uint32_t> free_slots_;
  std::unordered_map<std::string, sequence> live_;
  // Sequences waiting for a slot, in arrival order, with their requests.
  std::deque<std::string> pending_order_;
  std::unordered_map<std::string, std::deque<queued>> pending_;
  // The last ids that timed out, so their next request says so.
  std::unordered_set<std::string> timed_out_;
  std::deque<std::string> timed_out_order_;
  static constexpr std::size_t remembered_timeouts = 4096;
};

}  // namespace surge
