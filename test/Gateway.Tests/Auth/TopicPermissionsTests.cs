using Gateway.Auth;

namespace Gateway.Tests.Auth;

/// <summary>Permission patterns and the user-topic rules.</summary>
public sealed class TopicPermissionsTests
{
    [Theory]
    [InlineData("*", "anything", true)]
    [InlineData("team:*", "team:42/alerts", true)]
    [InlineData("team:*", "teams:1", false)]
    [InlineData("team:*/alerts", "team:42/alerts", true)]
    [InlineData("team:*/alerts", "team:42/other", false)]
    [InlineData("workflow:7f3a", "workflow:7f3a", true)]
    [InlineData("workflow:7f3a", "workflow:7f3ab", false)]
    [InlineData("a*b*c", "aXXbYYc", true)]
    [InlineData("a*b*c", "aXXbYY", false)]
    [InlineData("", "x", false)]
    public void Star_matches_any_run_of_characters(string pattern, string topic, bool expected) =>
        Assert.Equal(expected, TopicPermissions.Matches(pattern, topic));

    [Fact]
    public void Own_user_topic_is_always_readable_and_other_users_never()
    {
        var permissions = new TopicPermissions("alice", ["*"], []);
        Assert.True(permissions.CanSubscribe("user:alice"));
        Assert.False(permissions.CanSubscribe("user:bob"));
        Assert.False(permissions.CanSubscribe("user:alice2"));
        Assert.True(permissions.CanSubscribe("team:1"));
        Assert.False(permissions.CanPublish("team:1"));
    }

    [Fact]
    public void Publish_needs_a_matching_pattern()
    {
        var publisher = new TopicPermissions(null, [], ["user:*", "team:9"]);
        Assert.True(publisher.CanPublish("user:bob"));
        Assert.True(publisher.CanPublish("team:9"));
        Assert.False(publisher.CanPublish("team:10"));
        Assert.True(publisher.CanPublishSomewhere);
        Assert.False(publisher.CanSubscribe("user:bob"));
    }

    [Fact]
    public void Shared_pattern_lists_never_mix_lists_whose_joined_text_is_the_same()
    {
        // Pattern lists are shared between connections by their contents: lists that a naive join would confuse
        // ("a,b" as one pattern vs "a" and "b"; patterns holding the separator or a length prefix) stay distinct.
        var one = new TopicPermissions("u1", ["a\nb", "1:x"], ["a,b"]);
        var two = new TopicPermissions("u2", ["a", "b", "1", "x"], ["a", "b"]);
        var three = new TopicPermissions("u3", ["a\nb", "1:x"], ["a,b"]);
        Assert.True(one.CanSubscribe("a\nb"));
        Assert.False(one.CanSubscribe("a"));
        Assert.True(one.CanSubscribe("1:x"));
        Assert.True(one.CanPublish("a,b"));
        Assert.False(one.CanPublish("a"));
        Assert.True(two.CanSubscribe("a"));
        Assert.True(two.CanSubscribe("x"));
        Assert.False(two.CanSubscribe("a\nb"));
        Assert.True(two.CanPublish("b"));
        Assert.False(two.CanPublish("a,b"));
        Assert.True(three.CanSubscribe("a\nb"));
        Assert.False(three.CanPublish("b"));
    }

    [Fact]
    public void A_caller_changing_its_pattern_array_later_changes_no_permissions()
    {
        // The shared list is a copy: the array a token was parsed into cannot widen anyone's permissions afterwards.
        var patterns = new[] { "team:1" };
        var first = new TopicPermissions("u1", patterns, []);
        patterns[0] = "*";
        var second = new TopicPermissions("u2", ["team:1"], []);
        Assert.False(first.CanSubscribe("team:2"));
        Assert.False(second.CanSubscribe("team:2"));
        Assert.True(second.CanSubscribe("team:1"));
    }
}
